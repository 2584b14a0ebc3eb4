// Package tunnel owns the control plane's userspace WireGuard peers: one
// tunnel per customer into that customer's mesh, through which the
// daemon's MinIO, Qdrant and Neo4j clients dial the customer's data VM.
//
// # Shape
//
// Each customer has a /24 block B (plan.Addresses). Its WireGuard mesh is
// B.0/25 with the storage node B.1 as hub: the only peer with a public
// endpoint (UDP 51820), forwarding between its peers. The control plane is
// B.2 and has exactly one peer, the storage node, with AllowedIPs B.0/25;
// the data VM's services listen on B.3.
//
// A Pool opens a customer's tunnel on the first dial (wireguard-go's
// device over gVisor's netstack: no root, no kernel interface, one UDP
// socket per tunnel), keeps it while connections are open, closes it
// after Options.IdleTimeout without any, and holds at most
// Options.MaxTunnels: opening one more closes the least recently used
// idle tunnel, and when every tunnel has open connections the dial is
// refused with ErrTooManyTunnels rather than cutting a customer off.
//
// # Safety
//
// A dial whose address is outside the customer's AllowedIPs is refused
// (ErrOutsideAllowedIPs) before the tunnel is even opened, so nothing is
// sent. Keys are never logged and never in errors: configuration errors
// name the field only.
//
// # Testing
//
// Package wgtest starts the other side (storage-node hub, data VM) as
// userspace peers from wg-quick configuration text.
package tunnel
