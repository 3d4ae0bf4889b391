package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NetBoxEndpoint is the one NetBox the appliance writes to.
type NetBoxEndpoint struct {
	ID           int64
	Name         string
	IPAddress    string
	Domain       string
	Port         int
	TokenVersion string // v1 | v2
	Token        Secret // v1 token, or v2 secret
	TokenKey     Secret // v2 key
	VerifySSL    bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ProxmoxEndpoint is one Proxmox VE cluster or standalone node.
type ProxmoxEndpoint struct {
	ID   int64
	Name string
	// Key is the endpoint's identity in NetBox, given at creation and never
	// changed (a rename keeps it): "nb:<pk>" for a name the plugin pushed as
	// "<name> (nb:<pk>)", else the trimmed name, else the host, made unique
	// with "#<n>" when another endpoint holds it. Read-only.
	Key            string
	IPAddress      string
	Domain         string
	Port           int
	Username       string
	Password       Secret
	VerifySSL      bool
	TokenName      string
	TokenValue     Secret
	TimeoutSeconds int
	MaxRetries     int
	RetryBackoff   float64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NetBoxEndpointPatch names the fields an update changes; nil fields keep
// their stored value (and stored secrets are not touched at all).
type NetBoxEndpointPatch struct {
	Name, IPAddress, Domain, TokenVersion *string
	Port                                  *int
	Token, TokenKey                       *Secret
	VerifySSL                             *bool
}

// ProxmoxEndpointPatch names the fields an update changes.
type ProxmoxEndpointPatch struct {
	Name, IPAddress, Domain, Username, TokenName *string
	Port, TimeoutSeconds, MaxRetries             *int
	RetryBackoff                                 *float64
	Password, TokenValue                         *Secret
	VerifySSL                                    *bool
}

const netboxCols = `id, name, ip_address, domain, port, token_version, token_enc, token_key_enc, verify_ssl, created_at, updated_at`

func (s *Store) scanNetBox(row interface{ Scan(...any) error }) (NetBoxEndpoint, error) {
	var e NetBoxEndpoint
	var tok, key string
	var created, updated int64
	if err := row.Scan(&e.ID, &e.Name, &e.IPAddress, &e.Domain, &e.Port, &e.TokenVersion, &tok, &key, &e.VerifySSL, &created, &updated); err != nil {
		return e, err
	}
	var err error
	if e.Token, err = s.box.open("netbox_endpoint.token", tok); err != nil {
		return e, err
	}
	if e.TokenKey, err = s.box.open("netbox_endpoint.token_key", key); err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return e, nil
}

// NetBoxEndpoints lists NetBox endpoints by id (in practice zero or one).
func (s *Store) NetBoxEndpoints(ctx context.Context) ([]NetBoxEndpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+netboxCols+` FROM netbox_endpoint ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list netbox endpoints: %w", err)
	}
	defer rows.Close()
	var out []NetBoxEndpoint
	for rows.Next() {
		e, err := s.scanNetBox(rows)
		if err != nil {
			return nil, fmt.Errorf("list netbox endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// NetBoxEndpoint returns one NetBox endpoint, or ErrNotFound.
func (s *Store) NetBoxEndpoint(ctx context.Context, id int64) (NetBoxEndpoint, error) {
	e, err := s.scanNetBox(s.r.QueryRowContext(ctx, `SELECT `+netboxCols+` FROM netbox_endpoint WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("get netbox endpoint %d: %w", id, err)
	}
	return e, nil
}

// CreateNetBoxEndpoint inserts e; the endpoint is a singleton, so a second
// one is ErrConflict.
func (s *Store) CreateNetBoxEndpoint(ctx context.Context, e NetBoxEndpoint) (NetBoxEndpoint, error) {
	tok, err := s.box.seal("netbox_endpoint.token", e.Token)
	if err != nil {
		return e, err
	}
	key, err := s.box.seal("netbox_endpoint.token_key", e.TokenKey)
	if err != nil {
		return e, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	err = s.tx(ctx, func(t *sql.Tx) error {
		var n int
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM netbox_endpoint`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: only one NetBox endpoint is allowed", ErrConflict)
		}
		res, err := t.ExecContext(ctx, `INSERT INTO netbox_endpoint(name, ip_address, domain, port, token_version, token_enc, token_key_enc, verify_ssl, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			e.Name, e.IPAddress, e.Domain, e.Port, e.TokenVersion, tok, key, e.VerifySSL, now.UnixMilli(), now.UnixMilli())
		if err != nil {
			return err
		}
		e.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return e, fmt.Errorf("create netbox endpoint: %w", err)
	}
	e.CreatedAt, e.UpdatedAt = now, now
	return e, nil
}

// UpdateNetBoxEndpoint applies p to endpoint id and returns the result.
func (s *Store) UpdateNetBoxEndpoint(ctx context.Context, id int64, p NetBoxEndpointPatch) (NetBoxEndpoint, error) {
	var u updater
	u.set("name", p.Name)
	u.set("ip_address", p.IPAddress)
	u.set("domain", p.Domain)
	u.set("token_version", p.TokenVersion)
	u.set("port", p.Port)
	u.set("verify_ssl", p.VerifySSL)
	if err := u.secret(s.box, "token_enc", "netbox_endpoint.token", p.Token); err != nil {
		return NetBoxEndpoint{}, err
	}
	if err := u.secret(s.box, "token_key_enc", "netbox_endpoint.token_key", p.TokenKey); err != nil {
		return NetBoxEndpoint{}, err
	}
	if err := s.update(ctx, "netbox_endpoint", id, u); err != nil {
		return NetBoxEndpoint{}, fmt.Errorf("update netbox endpoint %d: %w", id, err)
	}
	return s.NetBoxEndpoint(ctx, id)
}

// DeleteNetBoxEndpoint removes endpoint id, or returns ErrNotFound.
func (s *Store) DeleteNetBoxEndpoint(ctx context.Context, id int64) error {
	return s.deleteByID(ctx, "netbox_endpoint", id)
}

const proxmoxCols = `id, name, endpoint_key, ip_address, domain, port, username, password_enc, verify_ssl, token_name, token_value_enc, timeout_seconds, max_retries, retry_backoff, created_at, updated_at`

func (s *Store) scanProxmox(row interface{ Scan(...any) error }) (ProxmoxEndpoint, error) {
	var e ProxmoxEndpoint
	var pw, tv string
	var created, updated int64
	if err := row.Scan(&e.ID, &e.Name, &e.Key, &e.IPAddress, &e.Domain, &e.Port, &e.Username, &pw, &e.VerifySSL, &e.TokenName, &tv, &e.TimeoutSeconds, &e.MaxRetries, &e.RetryBackoff, &created, &updated); err != nil {
		return e, err
	}
	var err error
	if e.Password, err = s.box.open("proxmox_endpoint.password", pw); err != nil {
		return e, err
	}
	if e.TokenValue, err = s.box.open("proxmox_endpoint.token_value", tv); err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return e, nil
}

// ProxmoxEndpoints lists Proxmox endpoints by id.
func (s *Store) ProxmoxEndpoints(ctx context.Context) ([]ProxmoxEndpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+proxmoxCols+` FROM proxmox_endpoint ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list proxmox endpoints: %w", err)
	}
	defer rows.Close()
	var out []ProxmoxEndpoint
	for rows.Next() {
		e, err := s.scanProxmox(rows)
		if err != nil {
			return nil, fmt.Errorf("list proxmox endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ProxmoxEndpoint returns one Proxmox endpoint, or ErrNotFound.
func (s *Store) ProxmoxEndpoint(ctx context.Context, id int64) (ProxmoxEndpoint, error) {
	e, err := s.scanProxmox(s.r.QueryRowContext(ctx, `SELECT `+proxmoxCols+` FROM proxmox_endpoint WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("get proxmox endpoint %d: %w", id, err)
	}
	return e, nil
}

// CreateProxmoxEndpoint inserts e and gives it its key (e.Key is ignored);
// a taken name is ErrConflict.
func (s *Store) CreateProxmoxEndpoint(ctx context.Context, e ProxmoxEndpoint) (ProxmoxEndpoint, error) {
	pw, err := s.box.seal("proxmox_endpoint.password", e.Password)
	if err != nil {
		return e, err
	}
	tv, err := s.box.seal("proxmox_endpoint.token_value", e.TokenValue)
	if err != nil {
		return e, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	err = s.tx(ctx, func(t *sql.Tx) error {
		key, err := newEndpointKey(ctx, t, e)
		if err != nil {
			return err
		}
		e.Key = key
		res, err := t.ExecContext(ctx, `INSERT INTO proxmox_endpoint(name, endpoint_key, ip_address, domain, port, username, password_enc, verify_ssl, token_name, token_value_enc, timeout_seconds, max_retries, retry_backoff, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			e.Name, e.Key, e.IPAddress, e.Domain, e.Port, e.Username, pw, e.VerifySSL, e.TokenName, tv, e.TimeoutSeconds, e.MaxRetries, e.RetryBackoff, now.UnixMilli(), now.UnixMilli())
		if err != nil {
			return uniqueErr(err)
		}
		e.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return e, fmt.Errorf("create proxmox endpoint: %w", err)
	}
	e.CreatedAt, e.UpdatedAt = now, now
	return e, nil
}

// pluginRowKey is the "(nb:<pk>)" suffix the netbox-proxbox plugin gives
// the names of the endpoints it pushes (sync.EndpointLabel reads it too).
var pluginRowKey = regexp.MustCompile(`\(nb:(\d+)\)\s*$`)

// newEndpointKey is the key of a new endpoint: "nb:<pk>" for a name the
// plugin pushed, else its trimmed name, else its host, else "endpoint";
// "#2", "#3"... appended while another endpoint (for example one renamed
// since) holds it.
func newEndpointKey(ctx context.Context, t *sql.Tx, e ProxmoxEndpoint) (string, error) {
	base := "endpoint"
	for _, s := range []string{e.Name, e.Domain, e.IPAddress} {
		if s = strings.TrimSpace(s); s != "" {
			base = s
			break
		}
	}
	if m := pluginRowKey.FindStringSubmatch(e.Name); m != nil {
		base = "nb:" + m[1]
	}
	key := base
	for n := 2; ; n++ {
		var taken int
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM proxmox_endpoint WHERE endpoint_key = ?`, key).Scan(&taken); err != nil {
			return "", err
		}
		if taken == 0 {
			return key, nil
		}
		key = base + "#" + strconv.Itoa(n)
	}
}

// UpdateProxmoxEndpoint applies p to endpoint id and returns the result.
func (s *Store) UpdateProxmoxEndpoint(ctx context.Context, id int64, p ProxmoxEndpointPatch) (ProxmoxEndpoint, error) {
	var u updater
	u.set("name", p.Name)
	u.set("ip_address", p.IPAddress)
	u.set("domain", p.Domain)
	u.set("username", p.Username)
	u.set("token_name", p.TokenName)
	u.set("port", p.Port)
	u.set("timeout_seconds", p.TimeoutSeconds)
	u.set("max_retries", p.MaxRetries)
	u.set("retry_backoff", p.RetryBackoff)
	u.set("verify_ssl", p.VerifySSL)
	if err := u.secret(s.box, "password_enc", "proxmox_endpoint.password", p.Password); err != nil {
		return ProxmoxEndpoint{}, err
	}
	if err := u.secret(s.box, "token_value_enc", "proxmox_endpoint.token_value", p.TokenValue); err != nil {
		return ProxmoxEndpoint{}, err
	}
	if err := s.update(ctx, "proxmox_endpoint", id, u); err != nil {
		return ProxmoxEndpoint{}, fmt.Errorf("update proxmox endpoint %d: %w", id, err)
	}
	return s.ProxmoxEndpoint(ctx, id)
}

// DeleteProxmoxEndpoint removes endpoint id, or returns ErrNotFound.
func (s *Store) DeleteProxmoxEndpoint(ctx context.Context, id int64) error {
	return s.deleteByID(ctx, "proxmox_endpoint", id)
}

// updater collects "col = ?" assignments for the columns a patch sets.
type updater struct {
	cols []string
	args []any
	err  error
}

func (u *updater) set(col string, v any) {
	switch p := v.(type) {
	case *string:
		if p != nil {
			u.add(col, *p)
		}
	case *int:
		if p != nil {
			u.add(col, *p)
		}
	case *float64:
		if p != nil {
			u.add(col, *p)
		}
	case *bool:
		if p != nil {
			u.add(col, *p)
		}
	default:
		u.err = fmt.Errorf("updater: unsupported type %T for %s", v, col)
	}
}

func (u *updater) secret(box *secretBox, col, aad string, v *Secret) error {
	if v == nil {
		return nil
	}
	sealed, err := box.seal(aad, *v)
	if err != nil {
		return err
	}
	u.add(col, sealed)
	return nil
}

func (u *updater) add(col string, v any) {
	u.cols = append(u.cols, col+" = ?")
	u.args = append(u.args, v)
}

func (s *Store) update(ctx context.Context, table string, id int64, u updater) error {
	if u.err != nil {
		return u.err
	}
	u.add("updated_at", time.Now().UTC().UnixMilli())
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `UPDATE `+table+` SET `+strings.Join(u.cols, ", ")+` WHERE id = ?`, append(u.args, id)...)
		if err != nil {
			return uniqueErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func (s *Store) deleteByID(ctx context.Context, table string, id int64) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete from %s: %w", table, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func uniqueErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}
