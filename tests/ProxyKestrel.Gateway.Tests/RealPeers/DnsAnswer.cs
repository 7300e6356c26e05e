using System.Net;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>What the real-peer tests read from a DNS response: its id, its RCODE and the first A record, if any.</summary>
/// <param name="Id">The message id (the query's, when the response belongs to it).</param>
/// <param name="RCode">The response code: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED.</param>
/// <param name="FirstA">The address of the first A record of class IN in the answer section, or null.</param>
internal readonly record struct DnsAnswer(ushort Id, int RCode, IPAddress? FirstA)
{
    /// <summary>RCODE 0: no error.</summary>
    public const int NoError = 0;

    /// <summary>RCODE 5: the server refuses to answer (an access control said no).</summary>
    public const int Refused = 5;
}
