package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/store"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", `migrate --from <proxbox-api data dir or database.db> [--from-key KEY] [--data-dir DIR]

Imports the endpoints and API keys of a proxbox-api (the Python service) database into this
appliance's store (--data-dir, created when missing). The source is opened read-only. Credentials
that proxbox-api encrypted need the PROXBOX_ENCRYPTION_KEY it ran with (--from-key, or
$PROXBOX_API_ENCRYPTION_KEY); they are stored again under this appliance's key. API keys move as
their bcrypt hashes: the plugin's key keeps working. Rows already present are skipped, so running
it twice is harmless. See docs/migrate.md.`, stderr)
	from := fs.String("from", "", "proxbox-api's database.db, or the directory that holds it (required)")
	fromKey := fs.String("from-key", os.Getenv("PROXBOX_API_ENCRYPTION_KEY"), "the PROXBOX_ENCRYPTION_KEY proxbox-api ran with [$PROXBOX_API_ENCRYPTION_KEY]")
	dataDir := fs.String("data-dir", "", "this appliance's data directory [$PROXBOX_DATA_DIR]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" {
		fmt.Fprintln(stderr, "proxbox migrate needs --from <proxbox-api data dir or database.db>")
		return errUsage
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if _, err := os.Stat(*from); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	st, err := store.Open(ctx, cfg.DataDir, store.Options{EncryptionKey: cfg.EncryptionKey})
	if err != nil {
		return fmt.Errorf("open store in %s: %w", cfg.DataDir, err)
	}
	defer st.Close()
	rep, err := st.ImportLegacy(ctx, *from, *fromKey)
	if err != nil {
		return err
	}
	for _, s := range rep.Imported {
		fmt.Fprintln(stdout, "imported:", s)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintln(stdout, "skipped: ", s)
	}
	fmt.Fprintf(stdout, "%d imported, %d skipped into %s\n", len(rep.Imported), len(rep.Skipped), st.Path())
	return nil
}
