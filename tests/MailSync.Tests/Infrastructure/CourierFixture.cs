namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Starts one Courier IMAP for the "courier" collection. A start failure (Courier not unpacked,
/// not root, server does not come up) is thrown, never turned into a skip, with and without
/// CI=true, so a broken environment shows up as failed tests with the reason and the install hint.
/// </summary>
public sealed class CourierFixture : IAsyncLifetime
{
    private CourierServer? _server;

    public CourierServer Server =>
        _server ?? throw new InvalidOperationException("CourierFixture used before InitializeAsync.");

    public async Task InitializeAsync() => _server = await CourierServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
