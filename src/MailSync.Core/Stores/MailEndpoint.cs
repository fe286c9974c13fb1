using MailKit.Security;

namespace MailSync.Core.Stores;

/// <summary>
/// Everything needed to open one authenticated connection. Kept apart from the job file's
/// records so that stores never see configuration parsing, only resolved settings.
/// </summary>
public sealed record MailEndpoint(
    string Host,
    int Port,
    SecureSocketOptions Security,
    string User,
    string Password,
    string? AuthMechanism = null,
    bool TrustAnyCertificate = false,
    string? CertificateFingerprint = null,
    TimeSpan? Timeout = null,
    ServerLimits? Limits = null)
{
    /// <summary>Never print the password, whatever logs or exceptions do with this record.</summary>
    public override string ToString() => $"{User}@{Host}:{Port}";
}
