package main

import (
	"testing"

	"github.com/proxbox/proxbox/store"
)

func TestProxmoxConfigFromStoredEndpoint(t *testing.T) {
	cases := []struct {
		ep                 store.ProxmoxEndpoint
		url, tokenID, user string
		verify             bool
	}{
		{store.ProxmoxEndpoint{IPAddress: "10.0.0.10", Port: 8006, Username: "root@pam", TokenName: "sync", TokenValue: "s"}, "https://10.0.0.10:8006", "root@pam!sync", "", false},
		{store.ProxmoxEndpoint{IPAddress: "10.0.0.10", Domain: "pve.example", Port: 443, Username: "root@pam", TokenName: "root@pam!sync", TokenValue: "s", VerifySSL: true}, "https://pve.example:443", "root@pam!sync", "", true},
		{store.ProxmoxEndpoint{IPAddress: "::1", Port: 8006, Username: "root@pam", Password: "pw"}, "https://[::1]:8006", "", "root@pam", false},
		{store.ProxmoxEndpoint{IPAddress: "10.0.0.10", Port: 8006, Username: "root@pam", Password: "pw", TokenName: "half"}, "https://10.0.0.10:8006", "", "root@pam", false},
	}
	for _, tc := range cases {
		c := proxmoxConfig(tc.ep, nil, nil)
		if c.BaseURL != tc.url || c.TokenID != tc.tokenID || c.Username != tc.user || c.VerifySSL != tc.verify {
			t.Errorf("%+v: got %s %q %q %v", tc.ep, c.BaseURL, c.TokenID, c.Username, c.VerifySSL)
		}
	}
}
