namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Tests in this collection share one Courier IMAP (starting one takes well under a second);
/// they stay independent by creating a fresh user each.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CourierCollection : ICollectionFixture<CourierFixture>
{
    public const string Name = "courier";
}
