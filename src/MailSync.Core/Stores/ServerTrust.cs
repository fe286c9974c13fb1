using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailKit.Security;

namespace MailSync.Core.Stores;

/// <summary>What IMAP and POP3 connections share: the certificate decision and the SASL mechanism by name.</summary>
internal static class ServerTrust
{
    /// <summary>Certificate checks stay on unless the account opts out or pins one certificate.</summary>
    public static bool Validate(MailEndpoint endpoint, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (endpoint.TrustAnyCertificate)
            return true;
        if (endpoint.CertificateFingerprint is { } pin && certificate is not null)
        {
            return string.Equals(Sha256(certificate), NormalizeFingerprint(pin), StringComparison.OrdinalIgnoreCase);
        }

        return errors == SslPolicyErrors.None;
    }

    /// <summary>Upper-case hex SHA-256 of the certificate (DER): what certificateFingerprint pins.</summary>
    public static string Sha256(X509Certificate certificate) => Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));

    public static SaslMechanism CreateMechanism(string name, NetworkCredential credentials) => name.ToUpperInvariant() switch
    {
        "PLAIN" => new SaslMechanismPlain(credentials),
        "LOGIN" => new SaslMechanismLogin(credentials),
        "CRAM-MD5" => new SaslMechanismCramMd5(credentials),
        "SCRAM-SHA-1" => new SaslMechanismScramSha1(credentials),
        "SCRAM-SHA-256" => new SaslMechanismScramSha256(credentials),
        // For XOAUTH2 and OAUTHBEARER the configured secret is the access token.
        "XOAUTH2" => new SaslMechanismOAuth2(credentials),
        "OAUTHBEARER" => new SaslMechanismOAuthBearer(credentials),
        _ => throw new StoreConnectException($"unsupported authentication mechanism \"{name}\"", StoreConnectFailure.Authentication),
    };

    private static string NormalizeFingerprint(string pin) => pin.Replace(":", string.Empty, StringComparison.Ordinal).Trim();
}
