package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/proxbox/proxbox/certs"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/static"
	"github.com/proxbox/proxbox/store"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/ui"

// Syncer is what the Sync and History pages need from the sync engine. See
// the package documentation for the contract.
type Syncer interface {
	// Stages lists the stage names a full run executes, in order.
	Stages() []string
	// Start begins a run and returns its id once it is recorded in the store.
	Start(ctx context.Context, req SyncRequest) (runID int64, err error)
	// Events subscribes to a running run; the channel is closed after
	// run_finished or when the returned func is called. It returns a nil
	// channel when the run is not running.
	Events(runID int64) (<-chan SyncEvent, func())
	// Cancel asks a running run to stop.
	Cancel(runID int64) error
}

// SyncRequest selects what a run does.
type SyncRequest struct {
	EndpointID int64  // Proxmox endpoint id; 0 means every endpoint
	Stage      string // one of Syncer.Stages(); "" means all
	DryRun     bool   // compute the plan, write nothing
	Trigger    string // "dashboard" for runs started here
}

// Event types of SyncEvent.Type.
const (
	EventRunStarted    = "run_started"
	EventStageStarted  = "stage_started"
	EventItem          = "item"
	EventWarning       = "warning"
	EventError         = "error"
	EventStageFinished = "stage_finished"
	EventRunFinished   = "run_finished"
)

// SyncEvent is one step of a running sync.
type SyncEvent struct {
	Type     string
	Endpoint string
	Stage    string
	Object   string      // item: the object being worked on
	Message  string      // warning, error, failed item: the reason (NetBox's when it gave one)
	Counts   StageCounts // the stage's running totals
	Status   string      // run_finished: ok | partial | failed | cancelled
}

// StageCounts are a stage's running totals. Total, when known, is how many
// objects the stage will handle (it sizes the progress bar).
type StageCounts struct {
	Total, Created, Updated, Unchanged, Failed int
}

// Done is the number of objects handled so far.
func (c StageCounts) Done() int { return c.Created + c.Updated + c.Unchanged + c.Failed }

// PlanChange is one change of a run (or of a dry run's plan).
type PlanChange struct {
	Op       string // create | update | orphan | delete | skip
	Model    string // NetBox model path, e.g. virtualization/virtual-machines
	Label    string
	Endpoint string // Proxmox endpoint label (empty in runs recorded before it was kept)
	Stage    string
	ID       int64 // NetBox id, when known
	Reason   string
	Error    string // the change failed
	Fields   []FieldChange
}

// FieldChange is one field of an update, rendered old -> new.
type FieldChange struct {
	Field, Old, New string
}

// Tester checks that an endpoint answers with its credentials and returns
// its version (Proxmox VE version, NetBox version).
type Tester interface {
	TestProxmox(ctx context.Context, e store.ProxmoxEndpoint) (version string, err error)
	TestNetBox(ctx context.Context, e store.NetBoxEndpoint) (version string, err error)
}

// LogSource feeds the live log tail (applog.Pipeline).
type LogSource interface {
	Subscribe() (<-chan store.LogEntry, func())
}

// Deps wires the dashboard. Store is required; everything else may be nil
// and the page concerned says what is missing.
type Deps struct {
	Store         *store.Store
	Cache         *getcache.Cache
	CacheDefaults getcache.Limits
	TLS           *certs.Manager
	Logs          LogSource
	Sync          Syncer
	Tester        Tester
	// NetBoxURL returns the base URL of the configured NetBox (for links
	// to synced objects); nil or "" means no links.
	NetBoxURL func(ctx context.Context) string
	// NextSync returns when the next scheduled sync starts (zero: none
	// scheduled, PROXBOX_SYNC_INTERVAL unset).
	NextSync func() time.Time
	// Watch returns the watch's per-endpoint status (PROXBOX_WATCH); nil:
	// the watch is off.
	Watch func() []WatchStatus
	// AllowedTargets is PROXBOX_ALLOWED_TARGETS, for endpoint validation.
	AllowedTargets []netip.Prefix
	// SetupCode, when set, checks (and consumes) the one-time code the
	// first-run setup asks for; serve prints it on the console. Nil: the
	// setup asks for no code.
	SetupCode func(code string) bool
	Logger    *slog.Logger
	Version   string
	Commit    string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Session lifetimes.
const (
	SessionIdle = 8 * time.Hour
	SessionMax  = 7 * 24 * time.Hour
)

// Dashboard is the http.Handler New returns.
type Dashboard struct {
	d        Deps
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	sessions *sessionStore
	cop      *http.CrossOriginProtection

	cacheMu      sync.Mutex
	cacheSamples []cacheSample

	links linkStore
}

// New builds the dashboard handler (a *Dashboard).
func New(d Deps) (*Dashboard, error) {
	if d.Store == nil {
		return nil, errors.New("ui: Deps.Store is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &Dashboard{d: d, log: d.Logger.With("module", "ui"), now: d.Now, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	h.sessions = newSessionStore(d.Now)
	h.routes()
	return h, nil
}

// SignedIn reports whether r carries a live dashboard session (for
// server.AcceptSessions, should the JSON routes ever accept it).
func (h *Dashboard) SignedIn(r *http.Request) bool {
	_, ok := h.session(r)
	return ok
}

func (h *Dashboard) routes() {
	m := h.mux
	m.Handle("GET /ui/static/", static.Handler("/ui/static/"))
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusSeeOther) })

	m.HandleFunc("GET /ui/setup", h.setupPage)
	m.HandleFunc("POST /ui/setup", h.anonForm(h.setupPost))
	m.HandleFunc("GET /ui/signin", h.signinPage)
	m.HandleFunc("POST /ui/signin", h.anonForm(h.signinPost))
	m.HandleFunc("POST /ui/signout", h.form(h.signoutPost))
	m.HandleFunc("GET "+LinkPrefix+"{token}", h.linkSignin)
	m.HandleFunc("GET /ui/lang/{lang}", h.setLang)

	m.HandleFunc("GET /ui/{$}", h.page(h.overview))
	m.HandleFunc("GET /ui/probe/{kind}/{id}", h.page(h.probe))

	m.HandleFunc("GET /ui/sync", h.page(h.syncPage))
	m.HandleFunc("POST /ui/sync", h.form(h.syncStart))
	m.HandleFunc("GET /ui/sync/{id}", h.page(h.runPage))
	m.HandleFunc("GET /ui/sync/{id}/stream", h.page(h.runStream))
	m.HandleFunc("POST /ui/sync/{id}/cancel", h.form(h.syncCancel))

	m.HandleFunc("GET /ui/history", h.page(h.historyPage))

	m.HandleFunc("GET /ui/cache", h.page(h.cachePage))
	m.HandleFunc("GET /ui/cache/metrics", h.page(h.cacheMetricsFragment))
	m.HandleFunc("POST /ui/cache", h.form(h.cacheTune))
	m.HandleFunc("POST /ui/cache/reset", h.form(h.cacheReset))
	m.HandleFunc("POST /ui/cache/clear", h.form(h.cacheClear))

	m.HandleFunc("GET /ui/endpoints", h.page(h.endpointsPage))
	m.HandleFunc("GET /ui/endpoints/{kind}/new", h.page(h.endpointNew))
	m.HandleFunc("POST /ui/endpoints/{kind}", h.form(h.endpointCreate))
	m.HandleFunc("GET /ui/endpoints/{kind}/{id}", h.page(h.endpointEdit))
	m.HandleFunc("POST /ui/endpoints/{kind}/{id}", h.form(h.endpointUpdate))
	m.HandleFunc("POST /ui/endpoints/{kind}/{id}/delete", h.form(h.endpointDelete))
	m.HandleFunc("POST /ui/endpoints/{kind}/{id}/test", h.form(h.endpointTest))

	m.HandleFunc("GET /ui/keys", h.page(h.keysPage))
	m.HandleFunc("POST /ui/keys", h.form(h.keyCreate))
	m.HandleFunc("POST /ui/keys/{id}/{action}", h.form(h.keyAction))

	m.HandleFunc("GET /ui/tls", h.page(h.tlsPage))

	m.HandleFunc("GET /ui/logs", h.page(h.logsPage))
	m.HandleFunc("GET /ui/logs/stream", h.page(h.logsStream))
}

// csp allows only the dashboard's own origin: no inline script, no remote
// anything. Inline SVG charts style through classes in app.css.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func (h *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	lang := langOf(r)
	hd.Set("Content-Language", string(lang))
	hd.Add("Vary", "Accept-Language, Cookie")
	r = r.WithContext(withLang(r.Context(), lang))
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}
