package decodecheck

import (
	"context"
	"net/http/httptest"
	"testing"

	gonetbox "github.com/netbox-community/go-netbox/v4"

	"github.com/proxbox/proxbox/lab/netbox"
)

const token = "0123456789abcdef0123456789abcdef01234567"

func TestGoNetboxDecodesVMListAndCreate(t *testing.T) {
	ctx := context.Background()
	srv := netbox.New(netbox.Options{Tokens: []netbox.Token{{Value: token}}})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	seed := func(model string, body map[string]any) int32 {
		t.Helper()
		v, err := srv.Create(ctx, model, body)
		if err != nil {
			t.Fatalf("seed %s: %v", model, err)
		}
		return int32(v.(map[string]any)["id"].(float64))
	}
	ct := seed("virtualization.clustertype", map[string]any{"name": "Cluster", "slug": "cluster"})
	cl := seed("virtualization.cluster", map[string]any{"name": "pve", "type": ct})
	tag := seed("extras.tag", map[string]any{"name": "Proxbox", "slug": "proxbox", "color": "ff5722"})
	seed("extras.customfield", map[string]any{"name": "proxmox_vm_id", "type": "integer", "object_types": []string{"virtualization.virtualmachine"}})
	site := seed("dcim.site", map[string]any{"name": "S", "slug": "s"})
	man := seed("dcim.manufacturer", map[string]any{"name": "Proxmox", "slug": "proxmox"})
	dt := seed("dcim.devicetype", map[string]any{"manufacturer": man, "model": "Generic", "slug": "generic"})
	role := seed("dcim.devicerole", map[string]any{"name": "Node", "slug": "node"})
	dev := seed("dcim.device", map[string]any{"name": "pve01", "device_type": dt, "role": role, "site": site, "cluster": cl})
	vm := seed("virtualization.virtualmachine", map[string]any{"name": "vm1", "cluster": cl, "device": dev, "role": role, "vcpus": 2,
		"memory": 2048, "status": "paused", "tags": []any{tag}, "custom_fields": map[string]any{"proxmox_vm_id": 100}})
	vif := seed("virtualization.vminterface", map[string]any{"virtual_machine": vm, "name": "net0"})
	seed("virtualization.virtualdisk", map[string]any{"virtual_machine": vm, "name": "scsi0", "size": 1024})
	ip := seed("ipam.ipaddress", map[string]any{"address": "10.0.0.2/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": vif})
	if _, err := srv.Update(ctx, "virtualization.virtualmachine", int64(vm), map[string]any{"primary_ip4": ip}); err != nil {
		t.Fatal(err)
	}

	cfg := gonetbox.NewConfiguration()
	cfg.Servers[0].URL = ts.URL
	cfg.AddDefaultHeader("Authorization", "Token "+token)
	cfg.HTTPClient = ts.Client()
	c := gonetbox.NewAPIClient(cfg)

	page, _, err := c.VirtualizationAPI.VirtualizationVirtualMachinesList(ctx).Limit(1000).Execute()
	if err != nil {
		t.Fatalf("decode VM list: %v", err)
	}
	if page.Count != 1 || page.Results[0].Name != "vm1" || page.Results[0].GetVirtualDiskCount() != 1 ||
		page.Results[0].Status.GetLabel() != "Paused" || page.Results[0].GetPrimaryIp4().Address != "10.0.0.2/24" {
		t.Fatalf("decoded VM %+v", page.Results[0])
	}

	req := gonetbox.NewWritableVirtualMachineWithConfigContextRequest("vm2")
	req.SetCluster(gonetbox.Int32AsDeviceWithConfigContextRequestCluster(&cl))
	created, _, err := c.VirtualizationAPI.VirtualizationVirtualMachinesCreate(ctx).WritableVirtualMachineWithConfigContextRequest(*req).Execute()
	if err != nil {
		t.Fatalf("decode VM create reply: %v", err)
	}
	if created.Name != "vm2" || created.GetCluster().Name != "pve" {
		t.Fatalf("created %+v", created)
	}

	ifaces, _, err := c.VirtualizationAPI.VirtualizationInterfacesList(ctx).VirtualMachineId([]int32{vm}).Execute()
	if err != nil || ifaces.Count != 1 {
		t.Fatalf("decode VM interfaces: %v", err)
	}
	disks, _, err := c.VirtualizationAPI.VirtualizationVirtualDisksList(ctx).Execute()
	if err != nil || disks.Count != 1 {
		t.Fatalf("decode virtual disks: %v", err)
	}
	ips, _, err := c.IpamAPI.IpamIpAddressesList(ctx).Execute()
	if err != nil || ips.Count != 1 {
		t.Fatalf("decode IPs: %v", err)
	}
	devs, _, err := c.DcimAPI.DcimDevicesList(ctx).Execute()
	if err != nil || devs.Count != 1 {
		t.Fatalf("decode devices: %v", err)
	}
	clusters, _, err := c.VirtualizationAPI.VirtualizationClustersList(ctx).Execute()
	if err != nil || clusters.Count != 1 {
		t.Fatalf("decode clusters: %v", err)
	}
	tags, _, err := c.ExtrasAPI.ExtrasTagsList(ctx).Execute()
	if err != nil || tags.Count != 1 {
		t.Fatalf("decode tags: %v", err)
	}
	cfs, _, err := c.ExtrasAPI.ExtrasCustomFieldsList(ctx).Execute()
	if err != nil || cfs.Count != 1 {
		t.Fatalf("decode custom fields: %v", err)
	}
}
