package proxmox

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; test with errors.Is on any error of this package.
var (
	// ErrUnauthorized: PVE answered 401 (bad token, bad password, expired ticket).
	ErrUnauthorized = errors.New("proxmox: authentication failed")
	// ErrForbidden: 403, the token or user lacks a privilege (e.g. Sys.Audit, VM.Audit).
	ErrForbidden = errors.New("proxmox: permission denied")
	// ErrNotFound: 404.
	ErrNotFound = errors.New("proxmox: not found")
	// ErrNotImplemented: 501, the path does not exist on this PVE version.
	ErrNotImplemented = errors.New("proxmox: not implemented by this Proxmox version")
	// ErrServer: 5xx (other than 501), including PVE's 500 with its reason, 595/596
	// (node unreachable) and gateway errors left after retries.
	ErrServer = errors.New("proxmox: server error")
	// ErrUnreachable: no HTTP answer (connection refused, TLS failure, timeout).
	ErrUnreachable = errors.New("proxmox: endpoint unreachable")
	// ErrMalformed: a 2xx reply that is not PVE's {"data": …} envelope or not the shape
	// expected.
	ErrMalformed = errors.New("proxmox: malformed reply")
	// ErrPanic: go-proxmox panicked; the panic was recovered.
	ErrPanic = errors.New("proxmox: library panic")
)

// APIError is one failed request. Message is PVE's reason phrase (PVE puts its error
// text in the HTTP status line, e.g. "VM 105 is not running") or what went wrong.
type APIError struct {
	Endpoint string // base URL
	Method   string // GET, or POST for the login
	Path     string // API path with query, without /api2/json
	Status   int    // HTTP status; 0 when there was no reply
	Message  string
	Err      error // the underlying error, if any
}

func (e *APIError) Error() string {
	s := "proxmox " + e.Endpoint + " " + e.Method + " " + e.Path + ": "
	if e.Status != 0 {
		s += fmt.Sprintf("%d ", e.Status)
	}
	s += e.Message
	if e.Status == http.StatusUnauthorized {
		s += " (check the API token or user and password of this endpoint)"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Reason is PVE's reason phrase or what went wrong, without the endpoint's
// URL: what may be shown to an API caller.
func (e *APIError) Reason() string {
	switch {
	case e.Status != 0:
		return e.Message
	case errors.Is(e.Err, ErrMalformed):
		return "malformed reply"
	}
	return "the endpoint did not answer"
}

func (e *APIError) Unwrap() []error {
	out := []error{}
	if k := e.kind(); k != nil {
		out = append(out, k)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

func (e *APIError) kind() error {
	switch {
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusForbidden:
		return ErrForbidden
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusNotImplemented:
		return ErrNotImplemented
	case e.Status >= 500:
		return ErrServer
	case e.Status == 0 && errors.Is(e.Err, ErrPanic):
		return nil
	case e.Status == 0 && errors.Is(e.Err, ErrMalformed):
		return nil
	case e.Status == 0:
		return ErrUnreachable
	case e.Status >= 200 && e.Status < 300:
		return ErrMalformed
	}
	return nil
}

func (c *Client) apiErr(path string, status int, msg string, err error) *APIError {
	if msg == "" {
		msg = http.StatusText(status)
	}
	method := http.MethodGet
	if path == "/access/ticket" {
		method = http.MethodPost
	}
	return &APIError{Endpoint: c.base, Method: method, Path: path, Status: status, Message: msg, Err: err}
}

// HTTPStatus is the status PVE answered (0 when there was no reply), for
// callers that must not import this package (the HTTP API).
func (e *APIError) HTTPStatus() int { return e.Status }
