namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Starts one default (Debian-style) Cyrus for the "cyrus" collection. A start failure is thrown, not
/// turned into a skip, in CI and elsewhere, so a missing install shows up as failed tests with the
/// reason and the install hint.
/// </summary>
public sealed class CyrusFixture : IAsyncLifetime
{
    private CyrusServer? _server;

    public CyrusServer Server =>
        _server ?? throw new InvalidOperationException("CyrusFixture used before InitializeAsync.");

    public async Task InitializeAsync() => _server = await CyrusServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
