// Package ui owns the appliance's web dashboard at /ui/: the templ
// components (*.templ and their committed *_templ.go), the HTTP handlers,
// the view models they render, the dashboard's own sign-in sessions and CSRF
// protection, and the server-sent event streams of the live parts. Assets
// (htmx, Pico CSS, app.css, app.js) come embedded from package static and are
// served under /ui/static/; nothing is loaded from another origin.
//
// It must not write SQL (it calls store methods), talk to Proxmox or NetBox
// itself (connection tests go through Deps.Tester), run syncs (it asks
// Deps.Sync), or hold TLS policy (it only reads certs.Manager). It never
// renders a secret: endpoint credentials are write-only and shown as
// set/unset, and an API key is shown once, on the page that created it.
//
// # Mounting
//
// New returns an http.Handler that expects the full request path (/ui,
// /ui/...), as the server's echo application hands it over. Paths under /ui/
// are exempt from the API-key middleware, so every page except /ui/static/,
// /ui/signin and /ui/setup requires a dashboard session.
//
// # Sessions and CSRF
//
// Sign-in takes an API key (store.VerifyKey; failures count against the same
// per-client lockout as the API). The session lives in memory (random 256-bit
// id, idle expiry SessionIdle, absolute expiry SessionMax) behind an HttpOnly,
// SameSite=Strict cookie that is Secure when the request came over TLS. A
// session also ends as soon as its key is deactivated or deleted. Every POST
// needs a CSRF token: the session's token when signed in, or a double-submit
// cookie on the sign-in and setup forms; on top, net/http's
// CrossOriginProtection refuses cross-site requests by Sec-Fetch-Site and
// Origin. With no active key in the store, /ui/ leads to /ui/setup, which
// creates the first admin key and shows it once.
//
// # The Syncer interface
//
// The Sync and History pages drive the sync engine through Syncer, the
// smallest surface they need; cmd/proxbox adapts the engine to it:
//
//	Stages() []string                                  // stage names in run order
//	Start(ctx, SyncRequest) (runID int64, err error)   // returns once the run is recorded in store.Runs
//	Events(runID) (<-chan SyncEvent, func())           // live events; nil channel when the run is not running
//	Cancel(runID) error                                // asks a running run to stop
//
// Start's ctx carries request-scoped values only; the run must outlive it.
// The Events channel is closed after the run_finished event (or when the
// returned func is called). SyncEvent.Counts carries the stage's running
// totals, so a page that subscribes mid-run is right after the next event of
// each stage; stages already finished are read from store.Runs. When
// Deps.Sync is nil the Sync page says the engine is not wired in this build.
//
// # Live parts
//
// Pages are complete server-rendered HTML and work without JavaScript (forms
// post and redirect). htmx boosts navigation and forms, polls the cache
// metrics (the server samples them), and its SSE extension swaps server-rendered fragments for the sync
// progress and the log tail.
//
// # Languages
//
// Every page is in English and Brazilian Portuguese. ServeHTTP picks the
// language from the lang cookie (set by the footer's switch, plain links to
// /ui/lang/{lang}?next=...) or else Accept-Language (pt, pt-BR -> Portuguese,
// anything else English) and puts it in the request context; templates call
// t(ctx, key) / tf(ctx, key, args...), handlers h.tr / h.trf. The texts live
// in messages.go, one map per language; tests fail when a key is missing in
// one language, when the fmt verbs differ, or when code uses an unknown key.
// Errors coming from other packages (target checks, cache limits, Proxmox and
// NetBox replies) stay as those packages word them.
//
// # One-time sign-in links
//
// LoginLink mints a random single-use token kept in memory (by its SHA-256)
// with an expiry; GET /ui/signin/link/{token} consumes it and signs the
// browser in like a key sign-in. proxbox demo prints one.
//
// # Runs, history, inventory, cache
//
// A finished run's page is built from the store alone (runsummary.go): the
// matrix of stages x endpoints from its stage results, the changes from the
// summary's plan (the engine records each change's endpoint and fields),
// the warnings and errors from the summary. The filter is a GET form the
// server applies (changes out of the filter are rendered hidden) and that
// app.js applies as one types. History and Cache draw timeChart, an SVG
// built on the server with labelled axes and a <title> per point. The
// overview's inventory reads the stored stage results and the summary's
// "inventory" (what syncrun found in the last Proxmox read), never NetBox.
// Dashboard.Run samples the cache every CacheSampleEvery into a ring the
// Cache page draws; Deps.NextSync names the next scheduled sync.
//
// # Not done yet
//
// Numbers use a decimal point in both languages. The overview's "drifted
// since" marker comes from the watch (Deps.Watch): it shows while a change
// the watch saw has not reached NetBox.
package ui
