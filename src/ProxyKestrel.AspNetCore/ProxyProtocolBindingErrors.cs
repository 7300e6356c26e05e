using System.Collections.Concurrent;

namespace ProxyKestrel.AspNetCore;

/// <summary>Binding problems found while reading configuration, kept per options name until validation reports them.</summary>
internal sealed class ProxyProtocolBindingErrors
{
    private readonly ConcurrentDictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public void Set(string name, List<string> errors) => _errors[name] = errors;

    public IReadOnlyList<string> Get(string name) => _errors.TryGetValue(name, out List<string>? errors) ? errors : [];
}
