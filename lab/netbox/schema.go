package netbox

import (
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// openAPIGz is NetBox 4.3's OpenAPI document from go-netbox v4.3.0 (see openapi/NOTICE.md).
//
//go:embed openapi/openapi.yaml.gz
var openAPIGz []byte

// pluginDocJSON holds netbox-proxbox 0.0.24's request schemas and list
// filter sets, taken from the real kit's /api/schema/ (openapi/NOTICE.md).
//
//go:embed openapi/plugin-0.0.24.json
var pluginDocJSON []byte

// pluginListFilters is the plugin document's list_filters: the query
// parameters each plugin list operation accepts (its django-filter set).
var pluginListFilters = sync.OnceValue(func() map[string][]string {
	var doc struct {
		ListFilters map[string][]string `json:"list_filters"`
	}
	_ = json.Unmarshal(pluginDocJSON, &doc) // checked by TestPluginListFiltersLoad
	return doc.ListFilters
})

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
)

// loadSpec parses the embedded document once per process (about a second on this machine).
func loadSpec() (*openapi3.T, error) {
	specOnce.Do(func() { specDoc, specErr = parseSpec() })
	return specDoc, specErr
}

func parseSpec() (*openapi3.T, error) {
	zr, err := gzip.NewReader(bytes.NewReader(openAPIGz))
	if err != nil {
		return nil, fmt.Errorf("open embedded openapi: %w", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read embedded openapi: %w", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse embedded openapi: %w", err)
	}
	return doc, nil
}

// WarmSchema loads the embedded OpenAPI document now instead of on the first write.
func WarmSchema() error {
	_, err := loadSpec()
	return err
}

// bodySchema returns the request body of the create (POST list), PUT or PATCH (detail) operation.
func bodySchema(doc *openapi3.T, path string, patch bool) *openapi3.RequestBody {
	var op *openapi3.Operation
	if patch {
		if it := doc.Paths.Value("/api/" + path + "/{id}/"); it != nil {
			op = it.Patch
		}
	} else if it := doc.Paths.Value("/api/" + path + "/"); it != nil {
		op = it.Post
	}
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	return op.RequestBody.Value
}

// schemaErrors validates one item with kin-openapi's openapi3filter against NetBox's schema
// and adds what it finds, in NetBox's words, to errs. Fields the simulator converts itself
// (types, FKs, tags, custom fields) keep their own message: NetBox accepts ids and attribute
// dicts for FKs and ids for tags, which the 4.3 document does not describe.
func (s *store) schemaErrors(m *model, item map[string]any, partial bool, errs errMap) {
	doc, err := loadSpec()
	if err != nil {
		return
	}
	rb := bodySchema(doc, m.path, partial)
	if rb == nil {
		return
	}
	body, err := json.Marshal(item)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	in := &openapi3filter.RequestValidationInput{Request: req,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	verr := openapi3filter.ValidateRequestBody(context.Background(), in, rb)
	if verr == nil {
		return
	}
	for _, se := range flattenSchemaErrors(verr) {
		ptr := se.JSONPointer()
		name := ""
		if len(ptr) > 0 {
			name = ptr[0]
		}
		if se.SchemaField == "required" && name == "" {
			continue
		}
		if name == "" || errs[name] != nil || name == "tags" || name == "custom_fields" {
			continue
		}
		f := m.field(name)
		if f == nil {
			// Not modelled here: DRF ignores unknown fields, and we do not store it.
			continue
		}
		if f.kind == kFK || f.kind == kGFKID || f.kind == kGFKType || f.kind == kJSON || f.kind == kStrList || f.kind == kFKList {
			continue
		}
		switch se.SchemaField {
		case "type", "nullable", "oneOf", "anyOf", "format":
			continue // our conversion is authoritative (DRF coerces "4096" to 4096)
		}
		errs.add(name, netboxMessage(se))
	}
}

func flattenSchemaErrors(err error) []*openapi3.SchemaError {
	var out []*openapi3.SchemaError
	var walk func(error)
	walk = func(e error) {
		var me openapi3.MultiError
		if errors.As(e, &me) {
			for _, x := range me {
				walk(x)
			}
			return
		}
		var re *openapi3filter.RequestError
		if errors.As(e, &re) && re.Err != nil && re.Err != e {
			walk(re.Err)
			return
		}
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			out = append(out, se)
		}
	}
	walk(err)
	return out
}

// netboxMessage words a schema failure the way DRF/NetBox does.
func netboxMessage(se *openapi3.SchemaError) string {
	sc := se.Schema
	switch se.SchemaField {
	case "required":
		return "This field is required."
	case "enum":
		return fmt.Sprintf("%v is not a valid choice.", se.Value)
	case "maxLength":
		if sc != nil && sc.MaxLength != nil {
			return fmt.Sprintf("Ensure this field has no more than %d characters.", *sc.MaxLength)
		}
	case "minLength":
		if v, ok := se.Value.(string); ok && v == "" {
			return "This field may not be blank."
		}
		if sc != nil {
			return fmt.Sprintf("Ensure this field has at least %d characters.", sc.MinLength)
		}
	case "pattern":
		if sc != nil && strings.Contains(sc.Pattern, "a-zA-Z0-9_") {
			return `Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.`
		}
		return "This value does not match the required pattern."
	case "maximum":
		if sc != nil && sc.Max != nil {
			if sc.ExclusiveMax.IsTrue() {
				return fmt.Sprintf("Ensure this value is less than %v.", *sc.Max)
			}
			return fmt.Sprintf("Ensure this value is less than or equal to %v.", *sc.Max)
		}
	case "minimum":
		if sc != nil && sc.Min != nil {
			return fmt.Sprintf("Ensure this value is greater than or equal to %v.", *sc.Min)
		}
	}
	return se.Reason
}

var (
	listParamsMu sync.Mutex
	listParamsBy = map[string]map[string]bool{}
)

// listFilters returns the query parameters NetBox's list operation of a
// model accepts (its filter set, as NetBox's OpenAPI document lists it, or
// the plugin's document for plugin models), or nil when neither has it.
func listFilters(path string) map[string]bool {
	listParamsMu.Lock()
	defer listParamsMu.Unlock()
	if p, ok := listParamsBy[path]; ok {
		return p
	}
	if names, ok := pluginListFilters()[path]; ok {
		set := make(map[string]bool, len(names))
		for _, n := range names {
			set[n] = true
		}
		listParamsBy[path] = set
		return set
	}
	doc, err := loadSpec()
	var names map[string]bool
	if err == nil {
		if it := doc.Paths.Value("/api/" + path + "/"); it != nil && it.Get != nil {
			names = map[string]bool{}
			for _, ref := range it.Get.Parameters {
				if ref != nil && ref.Value != nil && ref.Value.In == "query" {
					names[ref.Value.Name] = true
				}
			}
		}
	}
	listParamsBy[path] = names
	return names
}
