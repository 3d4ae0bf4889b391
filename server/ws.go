package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	pbsync "github.com/proxbox/proxbox/sync"
)

// wsAuthClose is the close code for a refused API key (proxbox-api's).
const wsAuthClose websocket.StatusCode = 4001

// legacyWS serves the legacy command channel /ws: the first text frame is
// {"api_key": ...}; then the commands "Full Update" / "Full Update Sync",
// "Sync Nodes" and "Sync Virtual Machines" run syncs whose items arrive as
// {"object": ..., "type": ..., "data": {...}} frames and end with
// {"object": ..., "end": true}.
func (s *Server) legacyWS(c echo.Context) error {
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		return nil // Accept has answered the client
	}
	defer conn.CloseNow()
	ctx := c.Request().Context()
	conn.SetReadLimit(64 << 10)

	if reason, ok := s.wsAuth(ctx, c, conn); !ok {
		conn.Close(wsAuthClose, reason)
		return nil
	}
	_ = conn.Write(ctx, websocket.MessageText, []byte("Connected!"))
	_ = conn.Write(ctx, websocket.MessageText, []byte("Connected 2!"))
	for {
		typ, msg, err := conn.Read(ctx)
		if err != nil {
			return nil
		}
		if typ != websocket.MessageText {
			continue
		}
		cmd := strings.TrimSpace(string(msg))
		var object string
		var stages []pbsync.Stage
		switch cmd {
		case "Full Update", "Full Update Sync":
			object, stages = "full-update", nil
		case "Sync Nodes":
			_ = conn.Write(ctx, websocket.MessageText, []byte("Sync Nodes"))
			object, stages = "device", []pbsync.Stage{pbsync.StageDevices}
		case "Sync Virtual Machines":
			object, stages = "virtual_machine", []pbsync.Stage{pbsync.StageVMs}
		default:
			_ = conn.Write(ctx, websocket.MessageText, []byte("Invalid command: "+cmd))
			_ = conn.Write(ctx, websocket.MessageText, []byte("Valid commands: 'Sync Nodes', 'Sync Virtual Machines', 'Full Update Sync'"))
			continue
		}
		if err := s.wsSync(ctx, conn, object, stages); err != nil {
			conn.Close(websocket.StatusInternalError, truncate(err.Error(), 120))
			return nil
		}
	}
}

// wsAuth reads the first frame and checks its key like the HTTP routes do
// (lockout included).
func (s *Server) wsAuth(ctx context.Context, c echo.Context, conn *websocket.Conn) (string, bool) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, msg, err := conn.Read(rctx)
	var first struct {
		APIKey string `json:"api_key"`
	}
	if err == nil {
		_ = json.Unmarshal(msg, &first)
	}
	res, err := s.checkKey(ctx, c.RealIP(), first.APIKey, c.Request().URL.Path)
	if err != nil {
		return "Authentication is unavailable.", false
	}
	switch res.outcome {
	case keyOK:
		s.watchKey(ctx, res.keyID, conn)
		return "", true
	case keyLocked:
		return "Too many failed authentication attempts. Please try again later.", false
	case keyNone:
		return "No API key configured.", false
	case keyMissing:
		return "API key required.", false
	}
	return "Invalid API key.", false
}

// watchKey closes conn when key id is deleted or deactivated.
func (s *Server) watchKey(ctx context.Context, id int64, conn *websocket.Conn) {
	kctx, cancel := s.keyContext(ctx, id)
	go func() {
		defer cancel()
		<-kctx.Done()
		if ctx.Err() == nil {
			conn.Close(websocket.StatusPolicyViolation, "API key revoked.")
		}
	}()
}

var wsObjects = map[string]string{
	"virtualization/virtual-machines": "virtual_machine",
	"dcim/devices":                    "device",
	"virtualization/interfaces":       "vm_interface",
	"dcim/interfaces":                 "node_interface",
	"ipam/ip-addresses":               "vm_ip",
	"virtualization/virtual-disks":    "virtual_disk",
}

func (s *Server) wsSync(ctx context.Context, conn *websocket.Conn, object string, stages []pbsync.Stage) error {
	if s.opt.Sync == nil {
		return errors.New("the sync engine is not wired in this build")
	}
	send := func(v any) {
		b, err := json.Marshal(v)
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_ = conn.Write(wctx, websocket.MessageText, b)
			cancel()
		}
	}
	events := func(e pbsync.Event) {
		if e.Type != pbsync.EventItem || e.Change == nil {
			return
		}
		obj, ok := wsObjects[e.Change.Model]
		if !ok {
			return
		}
		ch := e.Change
		data := map[string]any{"name": ch.Label, "rowid": ch.Label, "netbox_id": nilIfZero(ch.ID), "completed": ch.Error == "", "sync_status": "completed"}
		if ch.Error != "" {
			data["error"], data["sync_status"] = ch.Error, "undefined"
		}
		send(map[string]any{"object": obj, "type": string(ch.Op), "data": data})
	}
	sum, err := s.opt.Sync.Sync(ctx, StageRequest{Stages: stages, Trigger: "plugin"}, events)
	if err != nil {
		return err
	}
	if object == "full-update" {
		send(map[string]any{"object": "device", "end": true})
		send(map[string]any{"object": "virtual_machine", "end": true})
	}
	send(map[string]any{"object": object, "end": true, "ok": sum.OK || sum.Partial})
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
