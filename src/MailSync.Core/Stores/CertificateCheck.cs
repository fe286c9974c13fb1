using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace MailSync.Core.Stores;

/// <summary>
/// The certificate decision for one connection (<see cref="ServerTrust.Validate"/>), remembering
/// what it refused: MailKit only reports a failed handshake, and the user needs the certificate's
/// fingerprint to pin it and the reason to judge whether they should.
/// </summary>
internal sealed class CertificateCheck(MailEndpoint endpoint)
{
    /// <summary>True once a certificate was refused on this connection.</summary>
    public bool Rejected { get; private set; }

    /// <summary>Upper-case hex SHA-256 of the refused certificate, as certificateFingerprint takes it; null if the server sent none.</summary>
    public string? RejectedSha256 { get; private set; }

    /// <summary>Why it was refused, in words, without the fingerprint.</summary>
    public string? Reason { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (ServerTrust.Validate(endpoint, certificate, errors))
            return true;
        Rejected = true;
        RejectedSha256 = certificate is null ? null : ServerTrust.Sha256(certificate);
        Reason = Describe(certificate, chain, errors);
        return false;
    }

    private string Describe(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            return "the server sent no certificate";
        if (endpoint.CertificateFingerprint is not null)
            return "it does not match the pinned certificateFingerprint (the server's certificate changed, or this is not the expected server)";

        var reasons = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            reasons.Add($"it is not issued for {endpoint.Host}");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            // "UntrustedRoot: self-signed certificate", "NotTimeValid: certificate has expired": enough to judge it.
            var details = chain?.ChainStatus
                .Where(s => s.Status != X509ChainStatusFlags.NoError)
                .Select(s => string.IsNullOrWhiteSpace(s.StatusInformation) ? s.Status.ToString() : $"{s.Status}: {OneLine(s.StatusInformation)}")
                .Distinct()
                .ToList() ?? [];
            reasons.Add(details.Count > 0 ? $"no trusted authority vouches for it ({string.Join("; ", details)})" : "no trusted authority vouches for it");
        }

        return reasons.Count > 0 ? string.Join(", and ", reasons) : $"the TLS library refused it ({errors})";
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
}
