namespace MailSync.Tests.Infrastructure;

/// <summary>Tests that need the opt-in server features share one <see cref="FeatureDovecotFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class FeatureDovecotCollection : ICollectionFixture<FeatureDovecotFixture>
{
    public const string Name = "dovecot-features";
}
