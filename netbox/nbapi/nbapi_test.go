package nbapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	lab "github.com/proxbox/proxbox/lab/netbox"
	"github.com/proxbox/proxbox/netbox"
)

const (
	tokV1     = "0123456789abcdef0123456789abcdef01234567"
	tokV2Key  = "abcdefghijkl"
	tokV2Full = "nbt_" + tokV2Key + "." + tokV1
)

func newLab(t *testing.T, opts lab.Options, wrap func(http.Handler) http.Handler) (*lab.Server, string) {
	t.Helper()
	opts.Tokens = append(opts.Tokens, lab.Token{Value: tokV1}, lab.Token{Value: tokV2Full})
	opts.Logger = slog.New(slog.DiscardHandler)
	srv := lab.New(opts)
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

func newClient(t *testing.T, url string, mod func(*netbox.Config)) *netbox.Client {
	t.Helper()
	cfg := netbox.Config{URL: url, Token: tokV1, RetryBase: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		Timeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler), Version: "1.2.3"}
	if mod != nil {
		mod(&cfg)
	}
	c, err := netbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadStatus(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    lab.Options
		plugins map[string]string
	}{
		{"with plugin", lab.Options{Version: "4.6.8", PluginVersion: "0.0.24"}, map[string]string{"netbox_proxbox": "0.0.24"}},
		{"without plugin", lab.Options{Version: "4.5.9", DisablePlugin: true}, map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen http.Header
			srv, url := newLab(t, tt.opts, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					seen = r.Header.Clone()
					mu.Unlock()
					h.ServeHTTP(w, r)
				})
			})
			c := newClient(t, url, func(cfg *netbox.Config) { cfg.TokenVersion, cfg.TokenKey, cfg.Token = "v2", tokV2Key, tokV1 })
			st, err := ReadStatus(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if st.NetBoxVersion != tt.opts.Version || st.Raw["netbox-version"] != tt.opts.Version {
				t.Errorf("NetBoxVersion = %q", st.NetBoxVersion)
			}
			if len(st.Plugins) != len(tt.plugins) || st.Plugins["netbox_proxbox"] != tt.plugins["netbox_proxbox"] {
				t.Errorf("Plugins = %v, want %v", st.Plugins, tt.plugins)
			}
			if st.DjangoVersion == "" || st.PythonVersion == "" {
				t.Errorf("versions missing: %+v", st)
			}
			if n := srv.Stats().Requests["GET /api/status/"]; n != 1 || c.Stats().Requests != 1 {
				t.Errorf("status requests: lab %d, client %d; want 1, 1", n, c.Stats().Requests)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, want := range map[string]string{"Authorization": "Bearer " + tokV2Full, "User-Agent": "proxbox/1.2.3", "Accept-Language": "en-US"} {
				if got := seen.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestReadStatusRetriesAndRefusals(t *testing.T) {
	srv, url := newLab(t, lab.Options{}, nil)
	srv.SetFaults(lab.Faults{ErrorRate: 1, ErrorCodes: []int{503}})
	c := newClient(t, url, func(cfg *netbox.Config) { cfg.MaxRetries = 3 })
	_, err := ReadStatus(context.Background(), c)
	var ae *netbox.APIError
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("err = %v, want 503 APIError", err)
	}
	if n := srv.Stats().RequestsTotal; n != 4 || c.Stats().Retries != 3 {
		t.Fatalf("requests %d, retries %d; want 4, 3", n, c.Stats().Retries)
	}
	srv.SetFaults(lab.Faults{})
	srv.ResetStats()
	bad := newClient(t, url, func(cfg *netbox.Config) { cfg.Token = strings.Repeat("e", 40) })
	if _, err := ReadStatus(context.Background(), bad); !errors.As(err, &ae) || ae.Status != 403 || ae.Detail != "Invalid v1 token" {
		t.Fatalf("bad token: %v", err)
	}
	if n := srv.Stats().RequestsTotal; n != 1 {
		t.Fatalf("403 sent %d times, want once (never retried)", n)
	}
}
