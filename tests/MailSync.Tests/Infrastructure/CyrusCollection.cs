namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Tests in this collection share one Cyrus (starting one takes about 0.1 s); they stay independent by
/// creating a fresh user each.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CyrusCollection : ICollectionFixture<CyrusFixture>
{
    public const string Name = "cyrus";
}
