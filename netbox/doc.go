// Package netbox is proxbox's NetBox REST client: list reads with pagination, bulk writes with
// per-item error isolation, retries with backoff, duplicate-safe creates, the GET cache on the
// request path, and request counters. It does not import go-netbox: its one importer is
// netbox/nbapi, which speaks through this client (HTTPClient, Read), so that the packages built
// on this one (the sync engine's adapter, syncrun, the server) compile and test without go-netbox.
//
// It owns netbox/*.go. It must not import go-netbox or netbox/nbapi, must not edit netbox/getcache (it only installs getcache.Transport),
// and must not import the sync engine, the store, the server or the Proxmox adapter.
//
// # Reads
//
// List reads pages of limit=1000 as raw JSON into map[string]any. go-netbox's generated models
// are not used for reads: an enum value its NetBox 4.3 schema does not list makes a whole page
// fail to decode (../shared/spec/go-libraries.md §3.4). JSON numbers decode as float64 (ID turns
// an "id" into an int64). A page's "next" link is never followed as given: only its query is kept
// and the request is rebuilt on the configured URL, so a NetBox behind a TLS proxy that writes
// http:// links, or a link to another host, cannot redirect the token (peers-and-fixtures.md
// B.6 items 3 to 5; cursor links with start= work the same way). Reading stops on a null next, on
// count reached or on an empty page.
//
// ListTrimmed leaves each object's url, display_url and display out at every level, and the
// list objects' created, last_updated and null members; ListLean also holds a list object's
// nested object as its id and leaves its "" and {} members out, except those its Lean names
// (trim.go), for a caller that reads them so (the sync engine's state). CreateOptions.Lean does
// the same to a create's reply objects.
//
// FreshRead(ctx) sends "Cache-Control: no-cache", which getcache.Transport answers from NetBox
// and not from the cache (getcache doc, "Invalidation and stale reads"). The sync engine's state
// load and the client's own duplicate checks use it.
//
// # Writes
//
// Create, Update and Delete split their input into requests of at most Config.BatchSize objects
// and run up to Config.Concurrency of them at once (a client-wide semaphore bounds the requests
// in flight, so concurrent calls share the bound). The size adapts per model: after a bulk write
// the client keeps the time NetBox took per object and cuts the next requests of that model so
// one takes about a quarter of Config.Timeout (a request that got no reply counts as twice the
// timeout); BatchSizes reports the sizes, and the sync summary carries them. A create's
// Result.Object holds the "id" and the fields its item sent, as NetBox returned them; an
// update's the "id" and the fields the request's patches set. The rest of NetBox's reply is stepped over without being decoded. NetBox bulk writes are atomic
// (peers-and-fixtures.md B.6 items 9 and 10): a 400 whose body is a list of per-item error dicts
// marks the bad items with NetBox's messages and the rest are sent again; a 400, 409 or 413 with
// a single error for a whole batch is bisected until the offending items are alone. Bulk update
// and delete skip unknown ids; Update reports such an id as a 404 APIError, Delete as success.
//
// Retries: 429 (Retry-After honoured, seconds or HTTP date, capped at Config.MaxBackoff), 5xx
// other than 501/505, and connection errors are retried up to Config.MaxRetries times with
// exponential backoff and full jitter; other 4xx never are. PATCH and bulk DELETE are idempotent
// and are simply re-sent. A POST whose reply was lost after it may have reached NetBox (a
// connection error after the request was written, or a 5xx) is not re-sent blindly. After the
// backoff the client looks objects up (CreateOptions.Lookup, else the CreateOptions.Identity
// filter, else DefaultIdentity) with FreshRead. Bulk create is atomic, so the first object that
// can be looked up decides for the batch: absent, the batch is sent again (one GET); found, the
// batch landed and the other objects are re-read for their replies, with one list per scope and
// up to 50 names (name=a&name=b&cluster_id=3; netbox-proxbox's models filter as cluster=3, since
// their filter sets ignore cluster_id) where identities allow, else one by one. An object
// of a landed batch that cannot be found, or a batch where no object can be looked up, fails with
// ErrReplyLost and is never re-sent: a gap is filled by the next sync run, a duplicate is not
// removed by anything. NetBox finishes a request whose client went away and commits it at its
// end, so when no reply came at all (a timeout or dropped connection, not an answered 5xx) an
// "absent" is not final: the client waits with growing pauses (RetryBase doubling, at most
// MaxBackoff) and looks again, for up to one more Timeout, before it sends the batch again.
//
// # Counters
//
// Stats counts requests that reached the network (cache hits are not requests), write requests
// among them, and retries. The simulator in lab/netbox counts the same requests from the other
// side; the tests compare both.
package netbox
