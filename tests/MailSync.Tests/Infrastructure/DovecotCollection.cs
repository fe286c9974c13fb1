namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Tests in this collection share one Dovecot (starting one costs ~0.3 s and stopping ~2 s);
/// they stay independent by creating a fresh user each.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DovecotCollection : ICollectionFixture<DovecotFixture>
{
    public const string Name = "dovecot";
}
