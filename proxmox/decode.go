package proxmox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tolerant JSON types. PVE flips between numbers and strings across releases and
// sometimes sends null; these never fail to decode: a value they cannot read is zero.

// flexInt reads 12, 12.0, "12", "12.5", true/false, null.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	*n = flexInt(parseIntLoose(string(unquote(b))))
	return nil
}

// flexFloat reads numbers, numeric strings, booleans and null.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := string(unquote(b))
	switch s {
	case "true":
		*f = 1
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	*f = flexFloat(v)
	return nil
}

// flexBool reads 1/0, "1"/"0", true/false, "yes"/"on", null.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	*v = flexBool(truthy(string(unquote(b))))
	return nil
}

// flexString reads strings, and numbers or booleans as their text; objects and arrays
// keep their JSON text; null is "".
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	*s = flexString(jsonText(b))
	return nil
}

// jsonText is a JSON value as a config string.
func jsonText(b []byte) string {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0, string(b) == "null":
		return ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return ""
		}
		return s
	case string(b) == "true":
		return "1"
	case string(b) == "false":
		return "0"
	}
	return string(b)
}

// unquote strips one pair of JSON string quotes (numbers inside strings) and null.
func unquote(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) >= 2 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			return []byte(strings.TrimSpace(s))
		}
		return nil
	}
	return b
}

func parseIntLoose(s string) int64 {
	s = strings.TrimSpace(s)
	switch s {
	case "", "null", "false":
		return 0
	case "true":
		return 1
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) < 9e18 {
		return int64(v)
	}
	return 0
}

// truthy is PVE's boolean: 1, true, yes, on (any case).
func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// envelope returns the "data" member of a PVE reply. A missing "data" or a body that is
// not a JSON object is an error; "data": null returns nil.
func envelope(body []byte) ([]byte, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrMalformed, err)
	}
	d, ok := env["data"]
	if !ok {
		return nil, fmt.Errorf("%w: no \"data\" member", ErrMalformed)
	}
	if isNull(d) {
		return nil, nil
	}
	return d, nil
}

func isNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// decodeList splits a JSON array into its elements and decodes each into T. A null list
// is empty when nullOK, else an error. An element that is not an object is reported in
// bad (by index) and skipped, so one odd entry never loses the rest.
func decodeList[T any](data []byte, nullOK bool) (out []T, bad []int, err error) {
	if isNull(data) {
		if nullOK {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: data is null", ErrMalformed)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: want a list: %v", ErrMalformed, err)
	}
	out = make([]T, 0, len(raw))
	for i, r := range raw {
		r = bytes.TrimSpace(r)
		if len(r) == 0 || r[0] != '{' {
			bad = append(bad, i)
			continue
		}
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			bad = append(bad, i)
			continue
		}
		out = append(out, v)
	}
	return out, bad, nil
}

// decodeObject decodes a JSON object into T; null and non-objects are errors.
func decodeObject[T any](data []byte) (T, error) {
	var v T
	b := bytes.TrimSpace(data)
	if len(b) == 0 || b[0] != '{' {
		return v, fmt.Errorf("%w: want an object", ErrMalformed)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return v, nil
}

// ---------------------------------------------------------------------------------------
// reply shapes

// statusEntry is one item of /cluster/status.
type statusEntry struct {
	Type    flexString `json:"type"`
	ID      flexString `json:"id"`
	Name    flexString `json:"name"`
	IP      flexString `json:"ip"`
	Online  *flexBool  `json:"online"` // null or absent: online
	Local   flexBool   `json:"local"`
	NodeID  flexInt    `json:"nodeid"`
	Nodes   flexInt    `json:"nodes"`
	Quorate flexBool   `json:"quorate"`
	Version flexInt    `json:"version"`
}

// resourceEntry is one item of /cluster/resources.
type resourceEntry struct {
	ID       flexString `json:"id"`
	Type     flexString `json:"type"`
	Node     flexString `json:"node"`
	Name     flexString `json:"name"`
	Status   flexString `json:"status"`
	VMID     flexInt    `json:"vmid"`
	Template flexBool   `json:"template"`
	Pool     flexString `json:"pool"`
	HAState  flexString `json:"hastate"`
	Tags     flexString `json:"tags"`
	Lock     flexString `json:"lock"`
	MaxCPU   flexFloat  `json:"maxcpu"`
	MaxMem   flexInt    `json:"maxmem"`
	MaxDisk  flexInt    `json:"maxdisk"`
	Uptime   flexInt    `json:"uptime"`
	Storage  flexString `json:"storage"`
}

// networkEntry is one item of /nodes/{node}/network.
type networkEntry struct {
	Iface       flexString `json:"iface"`
	Type        flexString `json:"type"`
	Active      flexBool   `json:"active"`
	Autostart   flexBool   `json:"autostart"`
	CIDR        flexString `json:"cidr"`
	Address     flexString `json:"address"`
	Netmask     flexString `json:"netmask"`
	CIDR6       flexString `json:"cidr6"`
	Address6    flexString `json:"address6"`
	Netmask6    flexString `json:"netmask6"`
	Gateway     flexString `json:"gateway"`
	MTU         flexInt    `json:"mtu"`
	BridgePorts flexString `json:"bridge_ports"`
	Slaves      flexString `json:"slaves"`
	BondMode    flexString `json:"bond_mode"`
	VLANID      flexInt    `json:"vlan-id"`
	VLANRawDev  flexString `json:"vlan-raw-device"`
	VLANID2     flexInt    `json:"vlan_id"`
	VLANRawDev2 flexString `json:"vlan_raw_device"`
	Comments    flexString `json:"comments"`
}

// agentReply is the guest agent's network-get-interfaces ({"result": [...]}).
type agentReply struct {
	Result json.RawMessage `json:"result"`
}

type agentIface struct {
	Name        flexString `json:"name"`
	MAC         flexString `json:"hardware-address"`
	IPAddresses []struct {
		Address flexString `json:"ip-address"`
		Type    flexString `json:"ip-address-type"`
		Prefix  *flexInt   `json:"prefix"`
	} `json:"ip-addresses"`
}

// lxcIface is one item of /nodes/{node}/lxc/{vmid}/interfaces.
type lxcIface struct {
	Name   flexString      `json:"name"`
	HWAddr flexString      `json:"hwaddr"`
	Inet   flexString      `json:"inet"`
	Inet6  flexString      `json:"inet6"`
	IPs    json.RawMessage `json:"ip-addresses"`
}

// decodeConfig turns a guest config object into strings (numbers and booleans as text).
func decodeConfig(data []byte) (map[string]string, error) {
	raw, err := decodeObject[map[string]json.RawMessage](data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[k] = jsonText(v)
	}
	return out, nil
}
