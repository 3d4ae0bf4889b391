package nbtest

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"

	nblab "github.com/proxbox/proxbox/lab/netbox"
)

const token = "0123456789abcdef0123456789abcdef01234567"

// Writes through the recorder reach NetBox whole and are counted by method
// and path; reads page through NetBox's list; Reset starts the count again.
func TestRecorderAndAPI(t *testing.T) {
	ts := httptest.NewServer(nblab.New(nblab.Options{Tokens: []nblab.Token{{Value: token}}}))
	t.Cleanup(ts.Close)
	rec := NewRecorder(t, ts.URL)
	via, direct := NewAPI(rec.URL, token), NewAPI(ts.URL, token)
	for _, n := range []string{"a", "b", "c"} {
		if got := via.Create(t, "extras/tags", map[string]any{"name": n, "slug": n}); got["slug"] != n || ID(got) == 0 {
			t.Fatalf("create %s: %v", n, got)
		}
	}
	id := ID(direct.List(t, "extras/tags", url.Values{"slug": {"b"}})[0])
	if got := via.Patch(t, "extras/tags", id, map[string]any{"description": "x"}); got["description"] != "x" {
		t.Fatalf("patch: %v", got)
	}
	if w := rec.Writes(); !slices.Equal(w, []string{"PATCH /api/extras/tags/" + strconv.FormatInt(id, 10) + "/ ×1", "POST /api/extras/tags/ ×3"}) || rec.Requests() != 4 {
		t.Fatalf("writes %v, %d requests", w, rec.Requests())
	}
	if n := direct.Count(t, "extras/tags", nil); n != 3 {
		t.Fatalf("count %d", n)
	}
	var slugs []string
	for _, o := range direct.List(t, "extras/tags", url.Values{"limit": {"2"}}) { // two pages
		slugs = append(slugs, o["slug"].(string))
	}
	if !slices.Equal(slugs, []string{"a", "b", "c"}) {
		t.Fatalf("list: %v", slugs)
	}
	rec.Reset()
	via.Count(t, "extras/tags", nil)
	if rec.Requests() != 1 || len(rec.Writes()) != 0 {
		t.Fatalf("after reset: %d requests, writes %v", rec.Requests(), rec.Writes())
	}
}
