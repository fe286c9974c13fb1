namespace MailSync.Tests.Infrastructure;

/// <summary>One Dovecot, one Cyrus and one Courier for tests that migrate between different servers.</summary>
public sealed class ServersFixture : IAsyncLifetime
{
    private DovecotServer? _dovecot;
    private CyrusServer? _cyrus;
    private CourierServer? _courier;

    public DovecotServer Dovecot => _dovecot ?? throw new InvalidOperationException("not started");

    public CyrusServer Cyrus => _cyrus ?? throw new InvalidOperationException("not started");

    public CourierServer Courier => _courier ?? throw new InvalidOperationException("not started");

    /// <summary>The server called <paramref name="name"/> ("Dovecot", "Cyrus" or "Courier").</summary>
    public IImapTestServer this[string name] => name switch
    {
        "Dovecot" => Dovecot,
        "Cyrus" => Cyrus,
        "Courier" => Courier,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such test server"),
    };

    public async Task InitializeAsync()
    {
        // Started one after the other: a failure names the server that did not come up.
        _dovecot = await DovecotServer.StartAsync();
        _cyrus = await CyrusServer.StartAsync(new CyrusOptions { ProtocolLog = false });
        _courier = await CourierServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_courier is not null)
            await _courier.DisposeAsync();
        if (_cyrus is not null)
            await _cyrus.DisposeAsync();
        if (_dovecot is not null)
            await _dovecot.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ServersCollection : ICollectionFixture<ServersFixture>
{
    public const string Name = "dovecot, cyrus and courier";
}
