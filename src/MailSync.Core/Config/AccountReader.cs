using System.Net;
using System.Text.Json;

using MailSync.Core.Stores;

namespace MailSync.Core.Config;

/// <summary>Reads and checks one entry of "accounts".</summary>
internal static class AccountReader
{
    private const string XOAuth2Mechanism = "XOAUTH2";
    private const string UserMechanism = "USER";
    private const string ApopMechanism = "APOP";

    private static readonly string[] Properties =
    [
        "protocol", "host", "port", "security", "user", "password", "oauth2Token", "authMechanism", "allowInsecure",
        "trustAnyCertificate", "certificateFingerprint", "maxConnections", "timeoutSeconds", "retryAttempts",
        "retryDelaySeconds", "maxResponseLineBytes", "maxLiteralBytes", "maxFolders", "maxMessagesPerFolder",
    ];

    /// <summary>
    /// Returns the account when it is valid. <paramref name="protocol"/> is set whenever the
    /// protocol itself could be read, so jobs can still be checked against a flawed account.
    /// </summary>
    public static AccountConfig? Read(
        string name, JsonElement element, string location, string? baseDirectory, List<ConfigError> errors, out Protocol? protocol)
    {
        protocol = null;
        var json = JsonObjectReader.Open(element, location, errors, Properties);
        if (json is null)
        {
            return null;
        }

        var errorsBefore = errors.Count;
        protocol = json.Enum<Protocol>("protocol", required: true);
        var host = json.String("host", required: true);
        var port = json.Int("port");
        var security = json.Enum<SecurityMode>("security") ?? SecurityMode.Ssl;
        var user = json.String("user", required: true);
        var password = ReadSecret(json, "password", "password", "MAIL_PASSWORD", baseDirectory);
        var oauth2Token = ReadSecret(json, "oauth2Token", "token", "OAUTH2_TOKEN", baseDirectory);
        // Presence, not validity: a malformed reference was already reported at its own location.
        var hasToken = json.Element("oauth2Token") is not null;
        if (!hasToken && json.Element("password") is null)
        {
            json.Error("password", "is required (or \"oauth2Token\" for an OAuth2 login)");
        }

        var authMechanism = json.String("authMechanism");
        var allowInsecure = json.Bool("allowInsecure");
        var trustAnyCertificate = json.Bool("trustAnyCertificate");
        var fingerprint = json.String("certificateFingerprint");
        var maxConnections = json.Int("maxConnections") ?? AccountConfig.DefaultMaxConnections;
        var timeoutSeconds = json.Int("timeoutSeconds") ?? AccountConfig.DefaultTimeoutSeconds;
        var retryAttempts = json.Int("retryAttempts") ?? AccountConfig.DefaultRetryAttempts;
        var retryDelaySeconds = json.Int("retryDelaySeconds") ?? AccountConfig.DefaultRetryDelaySeconds;
        var maxLine = json.Int("maxResponseLineBytes") ?? ServerLimits.DefaultResponseLineBytes;
        var maxLiteral = json.Int("maxLiteralBytes") ?? (int)ServerLimits.DefaultLiteralBytes;
        var maxFolders = json.Int("maxFolders") ?? ServerLimits.DefaultFolders;
        var maxMessages = json.Int("maxMessagesPerFolder") ?? ServerLimits.DefaultMessagesPerFolder;

        // A URL or "host:port" here is a common slip; the port has its own field.
        if (host is not null && (host.Any(char.IsWhiteSpace) || host.Contains('/')))
        {
            json.Error("host", $"\"{host}\" is not a host name or IP address (no scheme, path or spaces)");
        }

        if (port is < 1 or > 65535)
        {
            json.Error("port", "must be between 1 and 65535");
        }

        if (security == SecurityMode.None && host is not null && !allowInsecure && !IsLoopback(host))
        {
            json.Error("security", $"\"none\" would send the password unencrypted to {host}; use \"ssl\" or \"starttls\", or set \"allowInsecure\": true");
        }

        authMechanism = CheckAuthMechanism(json, protocol, authMechanism, hasToken);

        if (fingerprint is not null)
        {
            fingerprint = NormalizeFingerprint(fingerprint);
            if (fingerprint is null)
            {
                json.Error("certificateFingerprint", "must be a SHA-256 fingerprint: 64 hex digits, colons allowed");
            }
        }

        if (trustAnyCertificate && fingerprint is not null)
        {
            json.Error("trustAnyCertificate", "cannot be combined with \"certificateFingerprint\"; a pin only means something while certificates are checked");
        }

        if (maxConnections is < 1 or > 32)
        {
            json.Error("maxConnections", "must be between 1 and 32");
        }

        if (timeoutSeconds is < 5 or > 3600)
        {
            json.Error("timeoutSeconds", "must be between 5 and 3600");
        }

        if (retryAttempts is < 0 or > 20)
        {
            json.Error("retryAttempts", "must be between 0 and 20");
        }

        // Zero would hit a busy server again at once, which is what it asked us not to do.
        if (retryDelaySeconds is < 1 or > 300)
        {
            json.Error("retryDelaySeconds", "must be between 1 and 300 (waits are capped at 300 s)");
        }

        // Limits on what a server may send (bounded memory and time whatever it sends): the ranges
        // keep a typo from either making every server "misbehave" or removing the bound.
        if (maxLine is < 1024 or > 1024 * 1024 * 1024)
        {
            json.Error("maxResponseLineBytes", "must be between 1024 and 1073741824");
        }

        if (maxLiteral is < 1024 or > 1024 * 1024 * 1024)
        {
            json.Error("maxLiteralBytes", "must be between 1024 and 1073741824 (message bodies are not bound by it)");
        }

        if (maxFolders is < 1 or > 10_000_000)
        {
            json.Error("maxFolders", "must be between 1 and 10000000");
        }

        if (maxMessages is < 1 or > int.MaxValue - 1)
        {
            json.Error("maxMessagesPerFolder", "must be between 1 and 2147483646");
        }

        if (errors.Count > errorsBefore || protocol is null || host is null || user is null || (password is null && oauth2Token is null))
        {
            return null;
        }

        return new AccountConfig
        {
            Name = name,
            Protocol = protocol.Value,
            Host = host,
            Port = port ?? AccountConfig.DefaultPort(protocol.Value, security),
            Security = security,
            User = user,
            Password = password,
            OAuth2Token = oauth2Token,
            AuthMechanism = authMechanism,
            AllowInsecure = allowInsecure,
            TrustAnyCertificate = trustAnyCertificate,
            CertificateFingerprint = fingerprint,
            MaxConnections = maxConnections,
            TimeoutSeconds = timeoutSeconds,
            RetryAttempts = retryAttempts,
            RetryDelaySeconds = retryDelaySeconds,
            Limits = new ServerLimits
            {
                ResponseLineBytes = maxLine,
                LiteralBytes = maxLiteral,
                Folders = maxFolders,
                MessagesPerFolder = maxMessages,
            },
        };
    }

    internal static bool IsLoopback(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var address = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return IPAddress.TryParse(address, out var ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>Checks the login method against the protocol and the secrets given; returns it in upper case.</summary>
    private static string? CheckAuthMechanism(JsonObjectReader json, Protocol? protocol, string? authMechanismText, bool hasToken)
    {
        if (authMechanismText is null)
        {
            return null;
        }

        if (!authMechanismText.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            json.Error("authMechanism", $"\"{authMechanismText}\" is not a SASL mechanism name such as \"PLAIN\", \"LOGIN\" or \"XOAUTH2\"");
            return null;
        }

        // SASL mechanism names are upper case by definition (RFC 4422); accept any case, keep one.
        var authMechanism = authMechanismText.ToUpperInvariant();
        if (authMechanism is UserMechanism or ApopMechanism && protocol == Protocol.Imap)
        {
            json.Error("authMechanism", $"\"{authMechanism}\" cannot be used with imap: USER and APOP are POP3 login methods; use a SASL mechanism such as \"PLAIN\" or \"LOGIN\", or leave it out");
        }
        else if (authMechanism == XOAuth2Mechanism && !hasToken)
        {
            // Files written before "oauth2Token" existed put the token in "password"; point them at the new field.
            json.Error("authMechanism", "\"XOAUTH2\" requires \"oauth2Token\" (\"env:NAME\" or \"file:PATH\" of the access token)");
        }
        else if (authMechanism != XOAuth2Mechanism && hasToken)
        {
            json.Error("oauth2Token", $"is sent only with XOAUTH2, not with \"authMechanism\": \"{authMechanism}\"; leave authMechanism out or set it to \"XOAUTH2\"");
        }

        return authMechanism;
    }

    /// <summary>Reads an optional "env:NAME" / "file:PATH" reference; relative files are relative to the job file.</summary>
    /// <param name="what">What the secret is, for the literal-value message ("password", "token").</param>
    /// <param name="exampleVariable">An environment variable name for the "env:" example.</param>
    private static SecretRef? ReadSecret(JsonObjectReader json, string name, string what, string exampleVariable, string? baseDirectory)
    {
        if (json.Element(name) is not { } value)
        {
            return null;
        }

        // Never echo the text: if it is a literal secret, the error would print it.
        var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : null;
        if (text is not null && SecretRef.TryParse(text, out var secret))
        {
            return baseDirectory is null ? secret : secret.RelativeTo(baseDirectory);
        }

        var message = text switch
        {
            _ when text?.StartsWith(SecretRef.EnvKind + ":", StringComparison.OrdinalIgnoreCase) == true =>
                $"\"env:\" must be followed by an environment variable name, e.g. \"env:{exampleVariable}\"",
            _ when text?.StartsWith(SecretRef.FileKind + ":", StringComparison.OrdinalIgnoreCase) == true =>
                "\"file:\" must be followed by a file path, e.g. \"file:secrets/mail\"",
            _ => $"a literal {what} is not allowed; use \"env:NAME\" or \"file:PATH\"",
        };
        json.Error(name, message);
        return null;
    }

    private static string? NormalizeFingerprint(string text)
    {
        var hex = text.Replace(":", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit) ? hex : null;
    }
}
