using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// A route's <see cref="TcpRouteMatch"/>, ready to test a connection's <see cref="ClientFacts"/>: whether it matches,
/// and how specifically (<see cref="Rank"/>).
/// </summary>
internal sealed class TcpRouteMatcher
{
    private const long ExactName = 1_000;
    private readonly NameSet? _sni;
    private readonly NameSet? _host;
    private readonly HashSet<string>? _alpn;
    private readonly TcpClientProtocol[]? _protocols;
    private readonly IPNetworkSet? _sources;
    private readonly int _otherKeys;

    public TcpRouteMatcher(TcpRouteMatch match)
    {
        _sni = match.Sni is { } sni ? new NameSet(sni) : null;
        _host = match.Host is { } host ? new NameSet(host) : null;
        _alpn = match.Alpn is { } alpn ? new HashSet<string>(alpn, StringComparer.Ordinal) : null;
        _protocols = match.Protocol is { } protocols ? [.. protocols] : null;
        _sources = match.SourceNetworks is { } sources ? IPNetworkSet.Create(sources) : null;
        _otherKeys = (_alpn is null ? 0 : 1) + (_protocols is null ? 0 : 1) + (_sources is null ? 0 : 1);
        NeedsTls = _sni is not null || _alpn is not null;
        NeedsHttp = _host is not null;
        NeedsProtocol = NeedsTls || NeedsHttp || _protocols is not null;
    }

    /// <summary>Reads the ClientHello (SNI or ALPN).</summary>
    public bool NeedsTls { get; }

    /// <summary>Reads the first HTTP request's Host.</summary>
    public bool NeedsHttp { get; }

    /// <summary>Looks at the client's first bytes at all.</summary>
    public bool NeedsProtocol { get; }

    /// <summary>
    /// How specifically <paramref name="facts"/> match (higher wins: an exact name, then a wildcard by its length, for
    /// SNI then Host, then the number of other keys; always above 0, the rank of a route without <c>Match</c>), or -1
    /// when they do not.
    /// </summary>
    public long Rank(in ClientFacts facts)
    {
        if (_protocols is not null && (facts.Protocol is not { } protocol || Array.IndexOf(_protocols, protocol) < 0))
        {
            return -1;
        }

        if (_sources is not null && (facts.Client is not { } client || !_sources.Contains(client)))
        {
            return -1;
        }

        if (_alpn is not null && (facts.Alpn is not { } offered || !Array.Exists(offered, _alpn.Contains)))
        {
            return -1;
        }

        long sni = 0, host = 0;
        if (_sni is not null && (sni = _sni.Rank(facts.ServerName)) < 0)
        {
            return -1;
        }

        if (_host is not null && (host = _host.Rank(facts.Host)) < 0)
        {
            return -1;
        }

        return (sni * 1_000_000) + (host * 1_000) + 1 + _otherKeys;
    }

    /// <summary>Exact names and <c>*.</c> wildcards, case-insensitive.</summary>
    private sealed class NameSet
    {
        private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>Each wildcard's suffix with its dot (<c>.example.com</c>) and its label count, longest first.</summary>
        private readonly (string Suffix, int Labels)[] _wildcards;

        public NameSet(IReadOnlyList<string> names)
        {
            var wildcards = new List<(string, int)>();
            foreach (string name in names)
            {
                if (name.StartsWith("*.", StringComparison.Ordinal))
                {
                    wildcards.Add((name[1..], name.Count(c => c == '.')));
                }
                else
                {
                    _exact.Add(name.TrimEnd('.'));
                }
            }

            _wildcards = [.. wildcards.OrderByDescending(w => w.Item2)];
        }

        /// <summary><see cref="ExactName"/> for an exact name, a wildcard's label count, -1 for no match.</summary>
        public long Rank(string? name)
        {
            if (string.IsNullOrEmpty(name))
            {
                return -1;
            }

            name = name.TrimEnd('.');
            if (_exact.Contains(name))
            {
                return ExactName;
            }

            foreach ((string suffix, int labels) in _wildcards)
            {
                if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                {
                    return labels;
                }
            }

            return -1;
        }
    }
}
