package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/config"
)

// bindJSON decodes a JSON request body into v; malformed bodies are 422.
func bindJSON(c echo.Context, v any) error {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fail(http.StatusBadRequest, "Could not read the request body.")
	}
	if !utf8.Valid(b) {
		return fail(http.StatusUnprocessableEntity, "The request body is not valid UTF-8.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fail(http.StatusUnprocessableEntity, "The request body is not valid JSON for this route: "+err.Error())
	}
	return nil
}

// jsonBody is a JSON object whose fields are read one by one, so handlers
// can tell an absent field from a null one and accept the loose types the
// plugin sends (numbers as strings, booleans as "True").
type jsonBody struct {
	m    map[string]json.RawMessage
	errs []string
}

func readObject(c echo.Context) (*jsonBody, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "Could not read the request body.")
	}
	if !utf8.Valid(b) {
		return nil, fail(http.StatusUnprocessableEntity, "The request body is not valid UTF-8.")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fail(http.StatusUnprocessableEntity, "The request body must be a JSON object.")
	}
	return &jsonBody{m: m}, nil
}

func (b *jsonBody) isNull(k string) bool {
	v, ok := b.m[k]
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

func (b *jsonBody) bad(k, msg string) { b.errs = append(b.errs, k+": "+msg) }

// str returns the field as a string ("" for null); ok is false when absent.
func (b *jsonBody) str(k string, max int) (string, bool) {
	raw, ok := b.m[k]
	if !ok || b.isNull(k) {
		return "", ok
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		b.bad(k, "must be a string")
		return "", true
	}
	s = strings.TrimSpace(s)
	if err := textProblem(s, max); err != "" {
		b.bad(k, err)
	}
	return s, true
}

// textProblem says what is wrong with a free-text field: more than max
// characters (max > 0), invalid UTF-8, or a control character (NUL
// included; tabs and line breaks are allowed).
func textProblem(s string, max int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("must be at most %d characters", max)
	}
	for _, r := range s {
		if r == 0 || (unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r') {
			return "must not contain control characters"
		}
	}
	return ""
}

// TextProblem is the free-text rule of the API for the dashboard's forms:
// "" when s is fine, else what is wrong.
func TextProblem(s string, max int) string { return textProblem(s, max) }

// checkText is textProblem as a 422 naming the field.
func checkText(field, s string, max int) error {
	if p := textProblem(s, max); p != "" {
		return fail(http.StatusUnprocessableEntity, "Invalid request body: "+field+": "+p+".")
	}
	return nil
}

// rawNumber reads a JSON number or a numeric string; ok is false when the
// field is absent or null.
func (b *jsonBody) rawNumber(k string) (f float64, present, ok bool) {
	raw, has := b.m[k]
	if !has || b.isNull(k) {
		return 0, false, false
	}
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, true, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		// NaN and ±Inf parse but are no setting: refused like any text.
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true, true
		}
	}
	return 0, true, false
}

// integer accepts a JSON number or a numeric string within lo..hi.
func (b *jsonBody) integer(k string, lo, hi int) (int, bool) {
	f, present, ok := b.rawNumber(k)
	if !present {
		return 0, false
	}
	if !ok || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		b.bad(k, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
		return 0, true
	}
	return int(f), true
}

// number accepts a JSON number or a numeric string within lo..hi.
func (b *jsonBody) number(k string, lo, hi float64) (float64, bool) {
	f, present, ok := b.rawNumber(k)
	if !present {
		return 0, false
	}
	if !ok {
		b.bad(k, "must be a number")
		return 0, true
	}
	if f < lo || f > hi {
		b.bad(k, fmt.Sprintf("must be between %g and %g", lo, hi))
	}
	return f, true
}

// boolean accepts true/false and the strings "true", "True", "1", "0".
func (b *jsonBody) boolean(k string) (bool, bool) {
	raw, ok := b.m[k]
	if !ok || b.isNull(k) {
		return false, false
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err == nil {
		return v, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := config.ParseBool(s); err == nil {
			return v, true
		}
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil && (n == 0 || n == 1) {
		return n == 1, true
	}
	b.bad(k, "must be a boolean")
	return false, true
}

// err returns a 422 naming every malformed field, or nil.
func (b *jsonBody) err() error {
	if len(b.errs) == 0 {
		return nil
	}
	return fail(http.StatusUnprocessableEntity, "Invalid request body: "+strings.Join(b.errs, "; ")+".")
}

// page applies offset/limit query parameters (limit 1..1000, default all).
func page[T any](c echo.Context, items []T) []T {
	off, _ := strconv.Atoi(c.QueryParam("offset"))
	if off < 0 || off > len(items) {
		off = min(max(off, 0), len(items))
	}
	items = items[off:]
	if l, err := strconv.Atoi(c.QueryParam("limit")); err == nil && l >= 0 && l < len(items) {
		items = items[:l]
	}
	return items
}
