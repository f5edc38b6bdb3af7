// Package ui serves hookrelay's dashboard: server-rendered HTML pages
// (html/template, embedded with the stylesheet and one small script, so
// the binary needs nothing beside it) where a vendor manages endpoints,
// sends test events, watches attempts, retries and replays deliveries,
// checks signatures and manages the inbound gateway's sources, and where a
// vendor's customer, through a portal link, manages only their own
// endpoints.
//
// Mount it with
//
//	u, err := ui.New(ui.Config{Store: st, Notifier: engine, SessionKey: key, Secure: true})
//	mux.Handle("/ui/", u)
//
// # Pages
//
// Everything works without JavaScript: every change is a form POST
// answered with a redirect (or, for a revealed or rotated secret, with the
// page itself, so that a secret never sits in a URL), and the page of a
// delivery waiting for its attempt reloads itself with a meta refresh
// inside <noscript>. With JavaScript, static/app.js polls that page and
// swaps the attempts in place instead. The per-minute chart is an inline
// SVG laid out by the server.
//
// # Sessions
//
// The server keeps no session state. The session cookie holds the
// session's kind, expiry and a random nonce, signed with HMAC-SHA256 under
// a key derived from Config.SessionKey; it is HttpOnly, SameSite=Lax and,
// with Config.Secure, Secure. There are three kinds:
//
//   - anonymous: before sign-in; it carries the sign-in form's CSRF token;
//   - admin: signed in with an API key; it sees every tenant. It holds the
//     key's SHA-256 and every request checks with store.APIKeyByHash that
//     the key is not revoked, so revoking the key signs the session out;
//   - tenant: opened by a portal link (MintPortalLink); it sees one tenant.
//
// # Tenant isolation
//
// Every handler goes through one of two loaders, endpointFor and
// deliveryFor, which answer 404 for a resource of another tenant exactly
// as for one that does not exist, and every list passes the session's
// tenant to the store's filter. A tenant session creates endpoints only in
// its own tenant and cannot pick another.
//
// Inbound sources belong to no tenant: their pages answer 404 to a tenant
// session, as for anything of another tenant, and the tenants of their
// destinations ("source:<name>") get no portal link and cannot be picked
// in the endpoint form.
//
// # Sources
//
// A source's page shows its settings (the number of secrets and their
// expiry, never their values), its destinations, its ingest URL and its
// recent requests: the accepted ones, read through the deliveries that
// forward them (events of the source's tenant and type, which the store
// lists by tenant), linked to the delivery pages; and the rejected ones,
// as the gateway kept them. Its form applies the rules the API applies,
// from internal/inbound (CheckWindows, CheckSecrets, NewDestination), so
// that the two never disagree; a secret generated for a new source is
// shown once, on the page the form answers with.
//
// # Forgery and injection
//
// Every form carries a CSRF token (an HMAC of the session's nonce under a
// separate derived key) that every POST must echo, and
// http.CrossOriginProtection refuses cross-origin POSTs as well.
// html/template escapes everything a user or a receiver supplied: URLs,
// descriptions, response bodies, headers. Responses carry a Content
// Security Policy without inline scripts or styles (default-src 'self';
// frame-ancestors 'none'), X-Frame-Options DENY and Referrer-Policy
// no-referrer, which also keeps a portal link's token out of Referer
// headers.
//
// # Test events
//
// A test event must reach one endpoint only, whatever its event type
// filter: "Send test event" creates it with store.Store.CreateEventFor, so
// that it is a real delivery, signed by the engine, recorded and retried
// like any other, and sends the browser to the delivery's page to watch
// the attempt appear. A catalog type's "Send example" works the same way
// with the type's example payload.
//
// # The event catalog
//
// The catalog pages (list by group, type page; for admins create, edit,
// delete, send example) write through internal/catalog, as the API does:
// the dashboard never checks a schema or an example itself, it shows
// catalog.Check's field errors. The endpoint forms offer catalog.Filters
// as a datalist. "Erase payload" on a delivery page is
// store.Store.EraseEvent, as DELETE /api/v1/events/{id}/payload is. Both
// are audited under the API's action names. See docs/catalog.md.
//
// # Reading in bulk
//
// Lists never cost a query per row: the endpoint list reads every row's
// health with one store.Store.EndpointHealth, the source list counts the
// destinations of a whole page with one store.EndpointFilter.Tenants, and
// the overview's chart is counted by the database with
// store.Store.DeliveryHistogram.
package ui
