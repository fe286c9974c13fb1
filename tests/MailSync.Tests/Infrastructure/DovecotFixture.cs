namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Starts one default-style Dovecot for the "dovecot" collection. A start failure is thrown,
/// not turned into a skip, so a broken environment shows up as failed tests with the reason.
/// </summary>
public sealed class DovecotFixture : IAsyncLifetime
{
    private DovecotServer? _server;

    public DovecotServer Server =>
        _server ?? throw new InvalidOperationException("DovecotFixture used before InitializeAsync.");

    public async Task InitializeAsync() => _server = await DovecotServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
