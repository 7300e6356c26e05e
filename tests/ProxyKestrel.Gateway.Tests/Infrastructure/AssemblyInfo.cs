using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

[assembly: Xunit.CollectionBehavior(DisableTestParallelization = false)]

// Every test runs once per TCP transport (Sockets; Epoll on Linux), see Infrastructure/Transports/, except tests
// marked [NotPerTransport] and the namespaces below.
[assembly: Xunit.TestFramework("ProxyKestrel.Gateway.Tests.Infrastructure.Transports.TransportTestFramework", "ProxyKestrel.Gateway.Tests")]
[assembly: NotPerTransportNamespace(
    "ProxyKestrel.Gateway.Tests.Kubernetes", "renders the manifests and validates their gateway.json offline; no gateway, no socket")]
[assembly: NotPerTransportNamespace(
    "ProxyKestrel.Gateway.Tests.Benchmarks",
    "eng/bench/*/run.sh --smoke: each takes minutes and waits for the shared benchmark lock; the benchmarks choose what they compare")]
[assembly: NotPerTransportNamespace(
    "ProxyKestrel.Gateway.Tests.Transports.Epoll", "the epoll transport's own tests pin it (or start no gateway)")]
