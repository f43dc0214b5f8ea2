"""What tests, benchmarks and `./start` share to run camfleet as real processes: free loopback
ports (ports), children started and stopped by PID (processes), CPU metered from /proc (cpu),
the control plane and node agents as child processes (control_plane, agents), throwaway
PostgreSQL databases and Redis prefixes (databases) and a TCP proxy that can cut a link
(tcp_proxy). Importers name the module that holds each name; this file exports nothing."""
