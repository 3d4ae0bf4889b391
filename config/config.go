// Package config owns the appliance's start-up configuration: the table of
// options, their flags and environment variables (names kept from the Python
// proxbox-api so deployments move over), defaults and validation. It reads
// nothing but flags and the environment, and must not open files, sockets or
// the store.
package config

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TLS modes accepted by PROXBOX_TLS.
const (
	TLSOff   = "off"
	TLSLocal = "local"
	TLSACME  = "acme"
	TLSFiles = "files"
)

// DefaultRateLimit is the default number of requests per minute per client
// IP. The Python service's 60 would throttle the plugin's own traffic: one
// 12-stage job with its /health probes, endpoint pushes and retries makes
// well over 60 calls in a minute from one NetBox host, and the dashboard's
// live updates add more. 1200/min (20/s sustained, bursts up to the full
// minute's budget) never throttles that, and still stops a runaway client.
const DefaultRateLimit = 1200

// Config is the appliance's configuration after flags and environment have
// been merged and validated.
type Config struct {
	Port             int
	BindHost         string // empty means all interfaces, IPv4 and IPv6
	DataDir          string
	EncryptionKey    string // may be empty: a key file in DataDir is used then
	LogLevel         string // debug|info|warn|error
	LogFormat        string // text|json
	RateLimit        int    // requests per minute per client IP; 0 disables
	CORSExtraOrigins []string
	TrustedProxies   []netip.Prefix
	AllowedTargets   []netip.Prefix // link-local/metadata ranges an operator allows as endpoint targets
	BootstrapFrom    []netip.Prefix // who may bootstrap the first key; nil: loopback, private ranges, the NetBox endpoint
	TLS              string
	TLSNames         []string
	TLSCert          string
	TLSKey           string
	ACMEEmail        string
	ACMECA           string
	ACMEEABKeyID     string
	ACMEEABHMAC      string
	CARoot           string
	HTTPRedirectPort int // 0 disables the plain listener
	MetricsPublic    bool
	// ProxmoxWrites allows the plugin's write routes (HA arm/disarm) to
	// change Proxmox; off, every route that would write answers 403.
	ProxmoxWrites bool
	DebugCache    bool
	NetBoxTimeout float64       // seconds
	SyncInterval  time.Duration // 0: no scheduled syncs
	// Watch polls every endpoint and syncs what changed (package watch);
	// WatchInterval is the poll interval.
	Watch            bool
	WatchInterval    time.Duration
	NetBoxRetries    int           // retries of a failed NetBox request
	NetBoxRetryDelay time.Duration // first backoff
	NetBoxWrites     int           // NetBox requests in flight
	NetBoxBatchSize  int           // objects per bulk write
	ProxmoxFetch     int           // Proxmox requests in flight per endpoint

	// Sync engine defaults (environment only).
	Orphans             string        // keep|mark|delete
	OrphanGrace         time.Duration // how long a marked orphan waits; 0: delete at first sight
	DefaultSite         string        // NetBox site for nodes; empty: one per cluster
	SkipTemplates       bool          // PROXBOX_TEMPLATES=skip
	PrimaryIP           string        // ipv4|ipv6|both|none
	IPVRF               string        // none|endpoint|cluster: where IP addresses live
	AgentInterfaceNames bool          // interface names from the guest agent
	IgnoreIPv6LinkLocal bool          // skip fe80::/10 addresses
	BackupBatchSize     int           // backups per write request
	BackupBatchDelay    time.Duration // pause between two backup write requests; 0: none

	// NetBox GET cache limits (environment only; the dashboard may override them at run time).
	CacheTTL        time.Duration // 0 disables the cache
	CacheMaxEntries int
	CacheMaxBytes   int64

	// Warnings name proxbox-api variables that are set but ignored, or read under proxbox's name
	// (LegacyVariables); the appliance logs them at start-up.
	Warnings []string
}

// Addr is the listen address built from BindHost and Port.
func (c Config) Addr() string {
	return net.JoinHostPort(c.BindHost, strconv.Itoa(c.Port))
}

// option is one row of the options table.
type option struct {
	flag, env, def, help string
	set                  func(c *Config, v string) error
}

var options = []option{
	{"port", "PORT", "8000", "TCP port of the API and dashboard", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("allowed: an integer from 1 to 65535")
		}
		c.Port = n
		return nil
	}},
	{"bind", "PROXBOX_BIND_HOST", "", "address to listen on (empty: all interfaces, IPv4 and IPv6)", func(c *Config, v string) error {
		if v != "" && v != "localhost" {
			if _, err := netip.ParseAddr(strings.Trim(v, "[]")); err != nil {
				return errors.New("allowed: an IP address, localhost, or empty for all interfaces")
			}
		}
		c.BindHost = strings.Trim(v, "[]")
		return nil
	}},
	{"data-dir", "PROXBOX_DATA_DIR", "./data", "directory for the store, keys and certificates", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("allowed: a directory path")
		}
		c.DataDir = v
		return nil
	}},
	{"encryption-key", "PROXBOX_ENCRYPTION_KEY", "", "passphrase that encrypts stored credentials, at least 16 characters, stretched with argon2id (default: a random key kept in the data dir)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if n := utf8.RuneCountInString(v); n > 0 && n < MinEncryptionKeyLength {
			return fmt.Errorf("allowed: at least %d characters (got %d), or empty for a generated key file", MinEncryptionKeyLength, n)
		}
		c.EncryptionKey = v
		return nil
	}},
	{"log-level", "PROXBOX_LOG_LEVEL", "info", "log level: debug, info, warn or error", func(c *Config, v string) error {
		v = strings.ToLower(v)
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		case "warning":
			c.LogLevel = "warn"
			return nil
		}
		return errors.New("allowed: debug, info, warn, error")
	}},
	{"log-format", "PROXBOX_LOG_FORMAT", "text", "log format: text or json", func(c *Config, v string) error {
		v = strings.ToLower(v)
		if v != "text" && v != "json" {
			return errors.New("allowed: text, json")
		}
		c.LogFormat = v
		return nil
	}},
	{"rate-limit", "PROXBOX_RATE_LIMIT", strconv.Itoa(DefaultRateLimit), "requests per minute per client IP (0 disables)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("allowed: an integer >= 0")
		}
		c.RateLimit = n
		return nil
	}},
	{"cors-extra-origins", "PROXBOX_CORS_EXTRA_ORIGINS", "", "extra CORS origins, comma separated", func(c *Config, v string) error {
		c.CORSExtraOrigins = nil
		for _, o := range splitList(v) {
			o = strings.TrimRight(o, "/")
			if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
				return fmt.Errorf("allowed: origins such as https://netbox.example.com (got %q)", o)
			}
			c.CORSExtraOrigins = append(c.CORSExtraOrigins, o)
		}
		return nil
	}},
	{"trusted-proxies", "PROXBOX_TRUSTED_PROXIES", "", "CIDRs whose X-Forwarded-For is trusted, comma separated", func(c *Config, v string) (err error) {
		c.TrustedProxies, err = parsePrefixes(v)
		return err
	}},
	{"allowed-targets", "PROXBOX_ALLOWED_TARGETS", "", "link-local or metadata CIDRs allowed as endpoint targets, comma separated", func(c *Config, v string) (err error) {
		c.AllowedTargets, err = parsePrefixes(v)
		return err
	}},
	{"bootstrap-from", "PROXBOX_BOOTSTRAP_FROM", "", "CIDRs allowed to register the first API key (empty: loopback, private ranges and the NetBox endpoint's address; none: nobody)", func(c *Config, v string) (err error) {
		if strings.EqualFold(strings.TrimSpace(v), "none") {
			c.BootstrapFrom = []netip.Prefix{}
			return nil
		}
		c.BootstrapFrom, err = parsePrefixes(v)
		if err != nil {
			return fmt.Errorf("%w, or none", err)
		}
		return nil
	}},
	{"tls", "PROXBOX_TLS", TLSLocal, "TLS mode: off, local, acme or files", func(c *Config, v string) error {
		v = strings.ToLower(v)
		switch v {
		case TLSOff, TLSLocal, TLSACME, TLSFiles:
			c.TLS = v
			return nil
		}
		return errors.New("allowed: off, local, acme, files")
	}},
	{"tls-names", "PROXBOX_TLS_NAMES", "", "extra certificate names and IPs, commas and/or spaces", func(c *Config, v string) error {
		return c.addTLSNames(v)
	}},
	{"", "MKCERT_EXTRA_NAMES", "", "extra certificate names and IPs (the Python image's name for PROXBOX_TLS_NAMES)", func(c *Config, v string) error {
		return c.addTLSNames(v)
	}},
	{"tls-cert", "PROXBOX_TLS_CERT", "", "certificate chain file (files mode)", func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{"tls-key", "PROXBOX_TLS_KEY", "", "private key file (files mode)", func(c *Config, v string) error { c.TLSKey = v; return nil }},
	{"acme-email", "PROXBOX_ACME_EMAIL", "", "ACME account e-mail (acme mode)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v != "" {
			a, err := mail.ParseAddress(v)
			if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
				return errors.New("allowed: an e-mail address such as admin@example.com, or empty")
			}
		}
		c.ACMEEmail = v
		return nil
	}},
	{"acme-ca", "PROXBOX_ACME_CA", "", "ACME directory URL, or letsencrypt, letsencrypt-staging, zerossl (acme mode)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		switch strings.ToLower(v) {
		case "", "letsencrypt", "le", "production", "letsencrypt-staging", "staging", "le-staging", "zerossl":
			c.ACMECA = strings.ToLower(v)
			return nil
		}
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			return errors.New("allowed: letsencrypt, letsencrypt-staging, zerossl, or an ACME directory URL (https://...)")
		}
		c.ACMECA = v
		return nil
	}},
	{"acme-eab-kid", "PROXBOX_ACME_EAB_KID", "", "ACME external account key id (ZeroSSL)", func(c *Config, v string) error { c.ACMEEABKeyID = v; return nil }},
	{"acme-eab-hmac", "PROXBOX_ACME_EAB_HMAC", "", "ACME external account HMAC key (ZeroSSL)", func(c *Config, v string) error { c.ACMEEABHMAC = v; return nil }},
	{"ca-root", "CAROOT", "", "directory of the local CA (default: <data-dir>/ca)", func(c *Config, v string) error { c.CARoot = v; return nil }},
	{"http-redirect-port", "PROXBOX_HTTP_REDIRECT_PORT", "0", "plain HTTP port that redirects to HTTPS and answers ACME HTTP-01 (0: off)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return errors.New("allowed: 0 (off) or a port from 1 to 65535")
		}
		c.HTTPRedirectPort = n
		return nil
	}},
	{"metrics-public", "PROXBOX_METRICS_PUBLIC", "false", "serve /metrics without an API key", func(c *Config, v string) (err error) {
		c.MetricsPublic, err = parseBool(v)
		return err
	}},
	{"proxmox-writes", "PROXBOX_PROXMOX_WRITES", "false", "let the plugin's write routes change Proxmox (HA arm/disarm); off: they answer 403", func(c *Config, v string) (err error) {
		c.ProxmoxWrites, err = parseBool(v)
		return err
	}},
	{"", "PROXBOX_DEBUG_CACHE", "0", "", func(c *Config, v string) (err error) {
		c.DebugCache, err = parseBool(v)
		return err
	}},
	{"watch", "PROXBOX_WATCH", "on", "watch every Proxmox endpoint (poll /cluster/resources and /cluster/tasks) and sync each change within seconds; off: only full syncs", func(c *Config, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return errors.New("allowed: on, off (or true, false, 1, 0, yes, no)")
		}
		c.Watch = b
		return nil
	}},
	{"watch-interval", "PROXBOX_WATCH_INTERVAL", "5s", "poll interval of the watch, jittered per endpoint (at least 1s)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.Atoi(v); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d < time.Second || d > time.Hour {
			return errors.New("allowed: a duration from 1s to 1h such as 5s or 30s (plain numbers are seconds)")
		}
		c.WatchInterval = d
		return nil
	}},
	{"sync-interval", "PROXBOX_SYNC_INTERVAL", "auto", "run a full sync of every endpoint this often, e.g. 15m (0: only on demand; auto: 1h while PROXBOX_WATCH is on, else 0)", func(c *Config, v string) error {
		if v == "auto" {
			c.SyncInterval = -1 // resolved once PROXBOX_WATCH is known
			return nil
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.SyncInterval = time.Duration(n) * time.Second
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d > 0 && d < time.Minute) {
			return errors.New("allowed: auto, 0 (off), or a duration of at least 1m such as 15m or 1h (plain numbers are seconds)")
		}
		c.SyncInterval = d
		return nil
	}},
	{"netbox-max-retries", "PROXBOX_NETBOX_MAX_RETRIES", "5", "retries of a NetBox request that failed with 429, 5xx or a connection error", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 20 {
			return errors.New("allowed: an integer from 0 to 20")
		}
		c.NetBoxRetries = n
		return nil
	}},
	{"netbox-retry-delay", "PROXBOX_NETBOX_RETRY_DELAY", "0.5", "first backoff in seconds before a NetBox retry (doubles, with jitter; Retry-After wins)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 60 {
			return errors.New("allowed: a number of seconds above 0 and at most 60")
		}
		c.NetBoxRetryDelay = time.Duration(f * float64(time.Second))
		return nil
	}},
	{"netbox-write-concurrency", "PROXBOX_NETBOX_WRITE_CONCURRENCY", "4", "NetBox requests in flight at once", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return errors.New("allowed: an integer from 1 to 64")
		}
		c.NetBoxWrites = n
		return nil
	}},
	{"netbox-batch-size", "PROXBOX_NETBOX_BATCH_SIZE", "200", "objects per bulk NetBox write (backups: PROXBOX_BACKUP_BATCH_SIZE)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errors.New("allowed: an integer from 1 to 1000")
		}
		c.NetBoxBatchSize = n
		return nil
	}},
	{"proxmox-fetch-concurrency", "PROXBOX_PROXMOX_FETCH_CONCURRENCY", "8", "Proxmox requests in flight per endpoint", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return errors.New("allowed: an integer from 1 to 64")
		}
		c.ProxmoxFetch = n
		return nil
	}},
	{"netbox-timeout", "PROXBOX_NETBOX_TIMEOUT", "120", "NetBox request timeout in seconds", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return errors.New("allowed: a number of seconds > 0")
		}
		c.NetBoxTimeout = f
		return nil
	}},
	{"", "PROXBOX_ORPHANS", "mark", "a guest gone from Proxmox: keep, mark (status offline, tag proxbox-orphan) or delete (after PROXBOX_ORPHAN_GRACE)", func(c *Config, v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "keep" && v != "mark" && v != "delete" {
			return errors.New("allowed: keep, mark, delete")
		}
		c.Orphans = v
		return nil
	}},
	{"", "PROXBOX_ORPHAN_GRACE", "7d", "how long a marked orphan waits before delete removes it (7d, 36h; 0: at once)", func(c *Config, v string) error {
		d, ok := parseGrace(v)
		if !ok {
			return errors.New("allowed: a number of days such as 7d, or a duration such as 36h or 0")
		}
		c.OrphanGrace = d
		return nil
	}},
	{"", "PROXBOX_DEFAULT_SITE", "", "NetBox site for Proxmox nodes (empty: one site per cluster)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if len(v) > 100 || strings.ContainsFunc(v, unicode.IsControl) {
			return errors.New("allowed: a site name of at most 100 characters, or empty for one site per cluster")
		}
		c.DefaultSite = v
		return nil
	}},
	{"", "PROXBOX_TEMPLATES", "sync", "guest templates: sync (as offline VMs) or skip", func(c *Config, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "sync":
			c.SkipTemplates = false
		case "skip":
			c.SkipTemplates = true
		default:
			return errors.New("allowed: sync, skip")
		}
		return nil
	}},
	{"", "PROXBOX_PRIMARY_IP_PREFERENCE", "ipv4", "primary IP of a VM: ipv4, ipv6, both or none", func(c *Config, v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "ipv4" && v != "ipv6" && v != "both" && v != "none" {
			return errors.New("allowed: ipv4, ipv6, both, none")
		}
		c.PrimaryIP = v
		return nil
	}},
	{"", "PROXBOX_IP_VRF", "none", "where synced IP addresses live: none (NetBox's global table), endpoint or cluster (a VRF per endpoint, named after its label or its cluster, created and owned by proxbox, so ranges reused across endpoints coexist)", func(c *Config, v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "none" && v != "endpoint" && v != "cluster" {
			return errors.New("allowed: none, endpoint, cluster")
		}
		c.IPVRF = v
		return nil
	}},
	{"", "PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME", "true", "name VM interfaces as the guest agent reports them (false: netN)", func(c *Config, v string) (err error) {
		c.AgentInterfaceNames, err = parseBool(v)
		return err
	}},
	{"", "PROXBOX_IGNORE_IPV6_LINK_LOCAL", "true", "leave fe80::/10 addresses out", func(c *Config, v string) (err error) {
		c.IgnoreIPv6LinkLocal, err = parseBool(v)
		return err
	}},
	{"", "PROXBOX_BACKUP_BATCH_SIZE", "5", "backups per NetBox write request", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1000 {
			return errors.New("allowed: an integer from 1 to 1000")
		}
		c.BackupBatchSize = n
		return nil
	}},
	{"", "PROXBOX_BACKUP_BATCH_DELAY_MS", "200", "pause between two backup write requests, milliseconds (0: none)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 60000 {
			return errors.New("allowed: an integer from 0 to 60000 (milliseconds)")
		}
		c.BackupBatchDelay = time.Duration(n) * time.Millisecond
		return nil
	}},
	{"", "PROXBOX_NETBOX_GET_CACHE_TTL", "60", "seconds a NetBox GET answer is reused (0 disables the cache)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > float64(maxCacheTTLSeconds) {
			return fmt.Errorf("allowed: a number of seconds from 0 to %d, such as 60 or 0.5 (0 disables the cache)", maxCacheTTLSeconds)
		}
		c.CacheTTL = time.Duration(math.Round(f * float64(time.Second)))
		return nil
	}},
	{"", "PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES", "4096", "cache entries at most (LRU eviction)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return errors.New("allowed: an integer >= 1")
		}
		c.CacheMaxEntries = n
		return nil
	}},
	{"", "PROXBOX_NETBOX_GET_CACHE_MAX_BYTES", "52428800", "cached body bytes at most (LRU eviction)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1024 {
			return errors.New("allowed: an integer >= 1024 (bytes)")
		}
		c.CacheMaxBytes = n
		return nil
	}},
}

// MinEncryptionKeyLength is the shortest PROXBOX_ENCRYPTION_KEY accepted.
const MinEncryptionKeyLength = 16

// secretOptions are never echoed in an error.
var secretOptions = map[string]bool{"PROXBOX_ENCRYPTION_KEY": true, "PROXBOX_ACME_EAB_HMAC": true}

// maxCacheTTLSeconds is the largest cache TTL a time.Duration holds, in whole seconds.
const maxCacheTTLSeconds = math.MaxInt64 / int64(time.Second)

// parseGrace reads a number of days ("7d", "1.5d") or a Go duration ("36h", "0") >= 0.
func parseGrace(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 || n > 36500 {
			return 0, false
		}
		return time.Duration(n * float64(24*time.Hour)), true
	}
	if v == "0" {
		return 0, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d >= 0
}

// addTLSNames validates a PROXBOX_TLS_NAMES / MKCERT_EXTRA_NAMES list: every entry must be an IP
// address ([brackets] allowed) or a DNS name (a leading "*." wildcard allowed), so that no entry
// is dropped silently.
func (c *Config) addTLSNames(v string) error {
	for _, n := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		if !tlsName(n) {
			return fmt.Errorf("allowed: DNS names (*.example.com allowed) and IP addresses, separated by commas or spaces (bad entry %q)", n)
		}
		c.TLSNames = append(c.TLSNames, n)
	}
	return nil
}

// tlsName reports whether n can be a certificate name: an IP address, or labels of letters,
// digits, hyphens and underscores (1 to 63 characters, no hyphen at either end), at most 253
// characters in all, the first label possibly "*".
func tlsName(n string) bool {
	if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")); err == nil {
		return true
	}
	n = strings.TrimSuffix(n, ".")
	if n == "" || len(n) > 253 {
		return false
	}
	labels := strings.Split(n, ".")
	if labels[0] == "*" && len(labels) > 1 {
		labels = labels[1:]
	}
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// Flags registers every option that has a flag on fs and returns a loader
// that merges flags (which win) with the environment and defaults. Call the
// loader after fs.Parse.
func Flags(fs *flag.FlagSet, defaults map[string]string) func(getenv func(string) string) (Config, error) {
	values := make(map[string]*string, len(options))
	for _, o := range options {
		if o.flag == "" {
			continue
		}
		def := o.def
		if d, ok := defaults[o.env]; ok {
			def = d
		}
		help := o.help
		if o.env != "" {
			help += " [$" + o.env + "]"
		}
		values[o.flag] = fs.String(o.flag, def, help)
	}
	return func(getenv func(string) string) (Config, error) {
		seen := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { seen[f.Name] = true })
		var c Config
		for _, o := range options {
			v, name := o.def, o.env
			if d, ok := defaults[o.env]; ok {
				v = d
			}
			switch {
			case o.flag != "" && seen[o.flag]:
				v, name = *values[o.flag], "--"+o.flag
			case o.env != "" && getenv(o.env) != "":
				v = getenv(o.env)
			case o.env != "" && legacyAliasOf(o.env) != "" && getenv(legacyAliasOf(o.env)) != "":
				name = legacyAliasOf(o.env)
				v = getenv(name)
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s=%q (proxbox-api) is read as %s; rename it", name, v, o.env))
			}
			if err := o.set(&c, v); err != nil {
				shown := strconv.Quote(v)
				if secretOptions[o.env] {
					shown = "(hidden)"
				}
				return Config{}, fmt.Errorf("invalid %s=%s: %w", name, shown, err)
			}
		}
		if c.SyncInterval < 0 {
			c.SyncInterval = 0
			if c.Watch {
				c.SyncInterval = time.Hour
			}
		}
		if c.TLS == TLSFiles && (c.TLSCert == "" || c.TLSKey == "") {
			return Config{}, fmt.Errorf("invalid PROXBOX_TLS=%q: files mode needs PROXBOX_TLS_CERT and PROXBOX_TLS_KEY", c.TLS)
		}
		if c.TLS == TLSACME && len(c.TLSNames) == 0 {
			return Config{}, fmt.Errorf("invalid PROXBOX_TLS=%q: acme mode needs PROXBOX_TLS_NAMES (the public DNS names)", c.TLS)
		}
		if (c.ACMEEABKeyID == "") != (c.ACMEEABHMAC == "") {
			return Config{}, errors.New("invalid PROXBOX_ACME_EAB_KID/PROXBOX_ACME_EAB_HMAC: allowed: both set (external account binding) or both empty")
		}
		c.Warnings = append(c.Warnings, ignoredLegacy(getenv)...)
		return c, nil
	}
}

// LegacyVariable is one environment variable the Python service (proxbox-api) read, or its
// images set, that proxbox does not read under that name. docs/migrate.md has the full mapping.
type LegacyVariable struct {
	Env string
	// Use is the proxbox variable that takes the value when Env is set and Use is not (the
	// meaning matches); empty when the variable is ignored.
	Use string
	// Why says why it is ignored, or what changed.
	Why string
}

// LegacyVariables are proxbox-api's variables that proxbox maps or ignores (warning at start-up
// when set). Those it reads under the same name are in the options table (Documented).
var LegacyVariables = []LegacyVariable{
	{"PROXBOX_NETBOX_MAX_CONCURRENT", "PROXBOX_NETBOX_WRITE_CONCURRENCY", "the bound on NetBox requests in flight"},
	{"PROXBOX_FETCH_MAX_CONCURRENCY", "PROXBOX_PROXMOX_FETCH_CONCURRENCY", "the bound on Proxmox requests in flight per endpoint"},
	{"PROXBOX_VM_SYNC_MAX_CONCURRENCY", "", "proxbox has no per-VM sync tasks: it reads each endpoint once and writes in bulk; tune PROXBOX_PROXMOX_FETCH_CONCURRENCY and PROXBOX_NETBOX_WRITE_CONCURRENCY"},
	{"PROXBOX_CUSTOM_FIELDS_REQUEST_DELAY", "", "custom fields are written in the same bulk requests as their objects; PROXBOX_NETBOX_WRITE_CONCURRENCY bounds the load on NetBox"},
	{"PROXBOX_EXPOSE_INTERNAL_ERRORS", "", "internal error text never reaches a response; it is in the log (PROXBOX_LOG_LEVEL, /admin/logs)"},
	{"PROXBOX_STRICT_STARTUP", "", "start-up is always strict: any failure stops it with one line"},
	{"PROXBOX_SKIP_NETBOX_BOOTSTRAP", "", "proxbox makes no NetBox request at start-up"},
	{"MKCERT_CERT_DIR", "", "certificates live in <data-dir>/certmagic (local CA in CAROOT); to serve existing files use PROXBOX_TLS=files with PROXBOX_TLS_CERT and PROXBOX_TLS_KEY"},
	{"PROXBOX_DATABASE_PATH", "", "the database is <data-dir>/proxbox.db (PROXBOX_DATA_DIR); import the old one with proxbox migrate --from"},
	{"PROXBOX_ALLOW_PLAINTEXT_CREDENTIALS", "", "credentials are always encrypted at rest"},
	{"PROXBOX_FEATURES", "", "the routers it switched (intent, cloud, ssh, pbs) are not part of proxbox"},
	{"PROXBOX_GENERATED_DIR", "", "proxbox generates no Proxmox routes at run time"},
	{"PROXBOX_SSH_KEY_DIR", "", "proxbox has no SSH terminal"},
	{"PROXBOX_ENABLE_CLOUD_IMAGE_EXECUTION", "", "proxbox has no cloud image routes"},
	{"PROXMOX_API_MODE", "", "proxbox has no mock mode; proxbox lab and proxbox demo serve simulated Proxmox and NetBox"},
	{"DIODE_API_KEY", "", "Diode is not used"},
}

func legacyAliasOf(env string) string {
	for _, l := range LegacyVariables {
		if l.Use == env {
			return l.Env
		}
	}
	return ""
}

// ignoredLegacy returns one warning per ignored proxbox-api variable that is set, unless the
// options table reads it (a later version may).
func ignoredLegacy(getenv func(string) string) []string {
	var out []string
	for _, l := range LegacyVariables {
		if l.Use != "" || getenv(l.Env) == "" || slices.ContainsFunc(options, func(o option) bool { return o.env == l.Env }) {
			continue
		}
		out = append(out, fmt.Sprintf("%s is set but ignored (a proxbox-api variable): %s", l.Env, l.Why))
	}
	return out
}

// Load builds a Config from the environment alone (used by commands without
// server flags, such as healthcheck).
func Load(getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	return Flags(fs, nil)(getenv)
}

// Documented returns the options table as (env, flag, default, help) rows for
// the README and --help.
func Documented() [][4]string {
	rows := make([][4]string, 0, len(options))
	for _, o := range options {
		rows = append(rows, [4]string{o.env, o.flag, o.def, o.help})
	}
	return rows
}

// ParseBool parses the booleans the plugin and operators send: true/false in
// any case, 1/0, yes/no, on/off.
func ParseBool(v string) (bool, error) { return parseBool(v) }

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off", "":
		return false, nil
	}
	return false, errors.New("allowed: true, false, 1, 0, yes, no")
}

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("allowed: CIDRs such as 10.0.0.0/8 (got %q)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
