namespace MailSync.Tests.Infrastructure;

/// <summary>
/// One Dovecot with every opt-in feature on, for the "dovecot-features" collection: APOP, POP3
/// session locking, a 64 KiB message size limit, a 256 KiB storage quota and XOAUTH2/OAUTHBEARER.
/// The knobs do not interfere as long as each test uses its own users.
/// </summary>
public sealed class FeatureDovecotFixture : IAsyncLifetime
{
    public static readonly DovecotOptions Options = new()
    {
        Apop = true,
        Pop3LockSession = true,
        MaxMailSizeKb = 64,
        QuotaStorageKb = 256,
        OAuth2 = true,
    };

    private DovecotServer? _server;

    public DovecotServer Server =>
        _server ?? throw new InvalidOperationException("FeatureDovecotFixture used before InitializeAsync.");

    public async Task InitializeAsync() => _server = await DovecotServer.StartAsync(Options);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
