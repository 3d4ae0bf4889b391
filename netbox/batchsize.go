package netbox

import (
	"sync"
	"time"
)

// batchTarget is the share of Config.Timeout one bulk write should take: a request of a
// model whose objects NetBox writes slowly gets fewer objects, so it stays well under the
// timeout (a 200-VM bulk create took 150 s on a 2-core NetBox, past the 120 s default).
const batchTarget = 4 // a quarter of the timeout

// batchSizer keeps, per model path, the observed time NetBox takes per object of a bulk
// write and the batch size that follows from it: Config.BatchSize until a write was seen,
// then Timeout/batchTarget divided by the time per object, between 1 and Config.BatchSize.
type batchSizer struct {
	mu     sync.Mutex
	perObj map[string]time.Duration // exponentially weighted, per object
}

func (b *batchSizer) size(path string, limit int, timeout time.Duration) int {
	b.mu.Lock()
	per := b.perObj[path]
	b.mu.Unlock()
	if per <= 0 {
		return limit
	}
	n := int(timeout / batchTarget / per)
	return min(max(n, 1), limit)
}

// observe records one bulk write of n objects that took d. A request that got no reply
// within the timeout counts as having taken twice the timeout.
func (b *batchSizer) observe(path string, n int, d time.Duration) {
	if n <= 0 || d <= 0 {
		return
	}
	per := d / time.Duration(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perObj == nil {
		b.perObj = map[string]time.Duration{}
	}
	if old := b.perObj[path]; old > 0 && per < old {
		per = (old + per) / 2 // faster: adapt halfway; slower: at once
	}
	b.perObj[path] = per
}

// BatchSizes returns the bulk write size in use per model path (e.g.
// "/api/virtualization/virtual-machines/": 50) for every model written so far.
func (c *Client) BatchSizes() map[string]int {
	c.sizer.mu.Lock()
	paths := make([]string, 0, len(c.sizer.perObj))
	for p := range c.sizer.perObj {
		paths = append(paths, p)
	}
	c.sizer.mu.Unlock()
	out := make(map[string]int, len(paths))
	for _, p := range paths {
		out[p] = c.sizer.size(p, c.cfg.BatchSize, c.cfg.Timeout)
	}
	return out
}
