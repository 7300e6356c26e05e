using Microsoft.Extensions.Options;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>Validates <see cref="ProxyProtocolOptions"/> on start, reporting binding problems and every invalid value.</summary>
internal sealed class ProxyProtocolOptionsValidator : IValidateOptions<ProxyProtocolOptions>
{
    private readonly ProxyProtocolBindingErrors? _bindingErrors;

    public ProxyProtocolOptionsValidator(ProxyProtocolBindingErrors? bindingErrors = null) => _bindingErrors = bindingErrors;

    public ValidateOptionsResult Validate(string? name, ProxyProtocolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (_bindingErrors is not null)
        {
            errors.AddRange(_bindingErrors.Get(name ?? Options.DefaultName));
        }

        ProxyProtocolOptionsValidation.Validate(options, ProxyProtocolOptions.SectionName, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
