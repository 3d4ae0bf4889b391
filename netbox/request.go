package netbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a reply we read into memory (a page of 1000 fat objects is a few MiB).
const maxBody = 256 << 20

// APIError is a refusal by NetBox: a non-2xx reply. Fields holds DRF's field errors
// ({"name": ["…"]}; nested dicts such as custom_fields flatten to "custom_fields.x"; model-level
// errors are under "__all__"); Detail holds {"detail": "…"} or a non-JSON body.
type APIError struct {
	Status int
	Detail string
	Fields map[string][]string
	Body   []byte
}

// Error gives "HTTP 400: name: Virtual machine with this name already exists in cluster".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	parts := make([]string, 0, len(e.Fields)+1)
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg := strings.Join(e.Fields[k], "; ")
		if k == "__all__" || k == "non_field_errors" {
			parts = append(parts, msg)
		} else {
			parts = append(parts, k+": "+msg)
		}
	}
	if len(parts) == 0 {
		if t := http.StatusText(e.Status); t != "" {
			parts = append(parts, t)
		}
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	return b.String()
}

// newAPIError parses a NetBox error body of any shape.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status, Body: body}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		e.Detail = truncate(strings.TrimSpace(string(body)), 200)
		if t := htmlTitle(body); t != "" {
			// Django's HTML error page (an unknown path, e.g. a plugin that is not installed).
			e.Detail = "HTML page: " + t
		}
		return e
	}
	fillAPIError(e, v)
	return e
}

// htmlTitle returns the <title> of an HTML body, or "".
func htmlTitle(body []byte) string {
	s := string(body)
	i := strings.Index(strings.ToLower(s), "<title>")
	if i < 0 {
		return ""
	}
	s = s[i+len("<title>"):]
	j := strings.Index(strings.ToLower(s), "</title>")
	if j < 0 {
		return ""
	}
	return truncate(strings.Join(strings.Fields(s[:j]), " "), 200)
}

// fillAPIError reads one decoded error value: a dict of field errors, {"detail": …}, a list
// of messages, or a plain string. A 5xx JSON from NetBox ({"error", "exception"}) keeps its
// error text as Detail.
func fillAPIError(e *APIError, v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, fv := range t {
			switch k {
			case "detail":
				e.Detail = fmt.Sprint(fv)
				continue
			case "error":
				if s, ok := fv.(string); ok && e.Status >= 500 {
					e.Detail = s
					continue
				}
			case "exception", "netbox_version", "python_version":
				if e.Status >= 500 {
					continue
				}
			}
			addField(e, k, fv)
		}
	case []any:
		for _, x := range t {
			addField(e, "non_field_errors", x)
		}
	case string:
		e.Detail = t
	case nil:
	default:
		e.Detail = fmt.Sprint(t)
	}
}

func addField(e *APIError, key string, v any) {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			if m, ok := x.(map[string]any); ok {
				for k, y := range m {
					addField(e, key+"."+k, y)
				}
				continue
			}
			e.Fields[key] = append(e.Fields[key], fmt.Sprint(x))
		}
	case map[string]any:
		for k, y := range t {
			addField(e, key+"."+k, y)
		}
	case string:
		e.Fields[key] = append(e.Fields[key], t)
	default:
		e.Fields[key] = append(e.Fields[key], fmt.Sprint(t))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ErrReplyLost reports a create whose reply was lost after it may have reached NetBox, for an
// object the client could not look up (no identity): it may or may not exist now.
var ErrReplyLost = errors.New("reply lost after the request was sent; the object may have been created")

// ambiguousError is a failure of a non-idempotent request after it may have been processed.
type ambiguousError struct{ cause error }

func (e *ambiguousError) Error() string { return "reply lost: " + e.cause.Error() }
func (e *ambiguousError) Unwrap() error { return e.cause }

// request is one logical API call; do sends it with retries.
type request struct {
	method string
	path   string // below the base URL, e.g. "/api/dcim/devices/"
	query  url.Values
	body   []byte
	// noBlindRetry: a POST that may have been processed is returned as *ambiguousError instead
	// of being re-sent.
	noBlindRetry bool
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) apiPath(model string) (string, error) {
	m := strings.Trim(strings.TrimSpace(model), "/")
	m = strings.TrimPrefix(m, "api/")
	if m == "" || strings.ContainsAny(m, "?#") || strings.Contains(m, "..") {
		return "", fmt.Errorf("netbox: bad model path %q", model)
	}
	return "/api/" + m + "/", nil
}

// do sends r, retrying 429, 5xx and connection errors. A 2xx or any other status is returned
// as a response (the caller turns non-2xx into *APIError); exhausted retries return the last
// failure (an *APIError for a status).
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var failure error
		var hdr http.Header
		status := 0
		switch {
		case err != nil:
			if !retryableTransportError(err) {
				return nil, err
			}
			if r.noBlindRetry && !notSent(err) {
				return nil, &ambiguousError{cause: err}
			}
			failure = err
		case resp.status == http.StatusInternalServerError && integrityError(resp.body):
			// The request was rolled back whole: a definite refusal, not a
			// lost reply; the caller bisects the batch.
			return resp, nil
		case retryableStatus(resp.status):
			status, hdr = resp.status, resp.header
			failure = newAPIError(resp.status, resp.body)
			if r.noBlindRetry && resp.status != http.StatusTooManyRequests {
				return nil, &ambiguousError{cause: failure}
			}
		default:
			return resp, nil
		}
		if attempt >= c.cfg.MaxRetries {
			if attempt > 0 {
				return nil, fmt.Errorf("after %d attempts: %w", attempt+1, failure)
			}
			return nil, failure
		}
		if err := c.backoff(ctx, r.method, r.path, attempt, status, hdr, failure); err != nil {
			return nil, err
		}
	}
}

// once sends one attempt and reads the whole reply.
func (c *Client) once(ctx context.Context, r request) (*response, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	c.setHeaders(req)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.method == http.MethodGet && isFresh(ctx) {
		req.Header.Set("Cache-Control", "no-cache")
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	hr, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hr.Body, maxBody))
	if err != nil {
		// The status line arrived but the body did not: for a write, it may have landed.
		return nil, fmt.Errorf("read reply (HTTP %d): %w", hr.StatusCode, err)
	}
	return &response{status: hr.StatusCode, header: hr.Header, body: b}, nil
}

func (c *Client) setHeaders(req *http.Request) {
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "en-US")
	req.Header.Set("User-Agent", c.ua)
}

// retryableStatus: 429 and 5xx except 501 Not Implemented and 505 HTTP Version Not Supported.
func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || (s >= 500 && s <= 599 && s != http.StatusNotImplemented && s != http.StatusHTTPVersionNotSupported)
}

// retryableTransportError is false for certificate problems and a cancelled context.
func retryableTransportError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) || errors.As(err, &rhe) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "stopped after") {
		return false
	}
	return true
}

// notSent reports a connection that failed before the request could be written (dial errors).
func notSent(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// backoff logs and waits before attempt+1: RetryBase·2^attempt with full jitter, at least the
// Retry-After NetBox asked for, at most MaxBackoff.
func (c *Client) backoff(ctx context.Context, method, path string, attempt, status int, hdr http.Header, cause error) error {
	c.stats.retries.Add(1)
	d := c.retryDelay(attempt, hdr)
	c.log.Warn("netbox request failed, retrying", "method", method, "path", path, "status", status,
		"attempt", attempt+1, "wait", d, "error", cause)
	if err := c.sleep(ctx, d); err != nil {
		return fmt.Errorf("waiting to retry after %v: %w", cause, err)
	}
	return nil
}

func (c *Client) retryDelay(attempt int, hdr http.Header) time.Duration {
	exp := c.cfg.RetryBase
	for i := 0; i < attempt && exp < c.cfg.MaxBackoff; i++ {
		exp *= 2
	}
	exp = min(exp, c.cfg.MaxBackoff)
	d := exp/2 + time.Duration(c.jitter(int64(exp/2)+1))
	if ra, ok := parseRetryAfter(hdr.Get("Retry-After"), time.Now()); ok && ra > d {
		d = ra
	}
	return min(d, c.cfg.MaxBackoff)
}

// parseRetryAfter reads delta-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apiErr turns a non-2xx response into *APIError.
func apiErr(resp *response) *APIError { return newAPIError(resp.status, resp.body) }

// ID returns o["id"] as an int64 (JSON numbers decode as float64).
func ID(o Object) (int64, bool) { return toInt64(o["id"]) }

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != float64(int64(n)) {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// integrityError reports NetBox's 500 for a unique constraint broken at save
// time ({"exception": "IntegrityError", ...}): the transaction was rolled
// back, nothing landed.
func integrityError(body []byte) bool {
	var b struct {
		Exception string `json:"exception"`
	}
	return json.Unmarshal(body, &b) == nil && b.Exception == "IntegrityError"
}
