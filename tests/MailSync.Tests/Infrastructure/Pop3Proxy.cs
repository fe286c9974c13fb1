
namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A test-only TCP proxy in front of a plain-text POP3 server, listening on 127.0.0.1 (ephemeral port).
/// It understands just enough POP3 to inject faults while keeping responses matched to commands:
/// it keeps a FIFO of forwarded commands (clients may pipeline), knows which responses are multi-line
/// (+OK to CAPA, LIST and UIDL without argument, RETR, TOP, and bare AUTH; dot-terminated, dot-stuffed)
/// and follows SASL AUTH exchanges ("+ " continuation lines, the client's next line is SASL data).
/// TLS is not supported: STLS is removed from CAPA and a client's STLS is answered -ERR by the server.
/// Every switch may be flipped at any time from any thread; it applies to data seen afterwards.
/// </summary>
public sealed class Pop3Proxy : IAsyncDisposable
{
    private readonly RelayListener<Pop3ProxyConnection> _relay = new();
    private readonly Lock _refusalGate = new();
    private int _refusedLogins;
    private int _retrCount;
    private int _cutAfterRetr;
    private int _refusalsLeft;
    private string _refusalLine = "";
    private volatile bool _hideUidl;
    private volatile Func<Pop3ProxyCommand, Pop3ProxyAction>? _onClientCommand;
    private volatile Func<Pop3ProxyResponse, Pop3ProxyAction>? _onServerResponse;

    private Pop3Proxy(string upstreamHost, int upstreamPort)
    {
        UpstreamHost = upstreamHost;
        UpstreamPort = upstreamPort;
        _relay.Start((number, socket) => new Pop3ProxyConnection(this, number, socket));
    }

    /// <summary>Address the proxy listens on.</summary>
    public string Host => "127.0.0.1";

    /// <summary>Ephemeral port the proxy listens on.</summary>
    public int Port => _relay.Port;

    public string UpstreamHost { get; }

    public int UpstreamPort { get; }

    /// <summary>
    /// When true, clients see a server without UIDL: the "UIDL" line is dropped from CAPA responses and
    /// a UIDL command (with or without argument) is forwarded as "XUIDL ...", which the server answers
    /// with -ERR in order, pipelining included.
    /// </summary>
    public bool HideUidl
    {
        get => _hideUidl;
        set => _hideUidl = value;
    }

    /// <summary>Client connections accepted so far.</summary>
    public int ConnectionCount => _relay.ConnectionCount;

    /// <summary>Login attempts answered by the proxy itself (see <see cref="RefuseNextLogins"/>).</summary>
    public int RefusedLogins => Volatile.Read(ref _refusedLogins);

    /// <summary>RETR responses (of any status) relayed over the proxy's lifetime, on all connections.</summary>
    public int RetrCount => Volatile.Read(ref _retrCount);

    /// <summary>
    /// Called for every client command before it is forwarded (after the login-refusal check);
    /// <see cref="Pop3ProxyAction.Cut"/> resets both sides instead of forwarding. Runs on the connection's
    /// relay task: keep it quick; an exception from it resets the connection and is rethrown by
    /// <see cref="DisposeAsync"/>.
    /// </summary>
    public Func<Pop3ProxyCommand, Pop3ProxyAction>? OnClientCommand
    {
        get => _onClientCommand;
        set => _onClientCommand = value;
    }

    /// <summary>
    /// Called after every complete server response has been relayed and flushed to the client;
    /// <see cref="Pop3ProxyAction.Cut"/> then resets both sides. Same threading rules as
    /// <see cref="OnClientCommand"/>.
    /// </summary>
    public Func<Pop3ProxyResponse, Pop3ProxyAction>? OnServerResponse
    {
        get => _onServerResponse;
        set => _onServerResponse = value;
    }

    /// <summary>Starts listening; connections are relayed to the plain POP3 port given.</summary>
    public static Pop3Proxy Start(string upstreamHost, int upstreamPort)
    {
        ArgumentException.ThrowIfNullOrEmpty(upstreamHost);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(upstreamPort);
        return new Pop3Proxy(upstreamHost, upstreamPort);
    }

    /// <summary>
    /// The next <paramref name="count"/> login attempts (PASS, APOP, or AUTH with a mechanism; a bare
    /// AUTH only lists mechanisms) are not forwarded: once every earlier response on that connection has
    /// been relayed, the proxy sends <paramref name="errLine"/> itself and closes both sides. As a refusal
    /// closes its connection, these are the next <paramref name="count"/> connections that try to log in.
    /// Replaces any refusals still pending; a count of 0 cancels them.
    /// </summary>
    public void RefuseNextLogins(int count, string errLine)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentNullException.ThrowIfNull(errLine);
        if (errLine.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("The refusal must be one line, without CR or LF.", nameof(errLine));
        }

        lock (_refusalGate)
        {
            _refusalsLeft = count;
            _refusalLine = errLine;
        }
    }

    /// <summary>
    /// Resets both sides of the connection that relays the complete response to the
    /// <paramref name="n"/>-th RETR of the proxy's lifetime (see <see cref="RetrCount"/>), right after that
    /// response has been flushed to the client.
    /// </summary>
    public void CutAfterRetr(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        if (n <= RetrCount)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, $"{RetrCount} RETR responses have already been relayed.");
        }

        Volatile.Write(ref _cutAfterRetr, n);
    }

    /// <summary>Resets both sides of every open connection now. New connections are still accepted.</summary>
    public void CutNow()
    {
        foreach (var connection in _relay.Open)
        {
            connection.Abort();
        }
    }

    /// <summary>
    /// Stops listening, resets every open connection and waits for their relay tasks; then rethrows
    /// the first unexpected error of any connection's relay (a throwing hook, a proxy bug), if there was one.
    /// </summary>
    public ValueTask DisposeAsync() => _relay.DisposeAsync();

    internal bool TryTakeRefusal(out string errLine)
    {
        lock (_refusalGate)
        {
            if (_refusalsLeft > 0)
            {
                _refusalsLeft--;
                errLine = _refusalLine;
                // Counted before the line goes out, so a client that has seen it also sees the count.
                Interlocked.Increment(ref _refusedLogins);
                return true;
            }
        }

        errLine = "";
        return false;
    }

    /// <summary>Counts one relayed RETR response; returns its lifetime number.</summary>
    internal int CountRetr() => Interlocked.Increment(ref _retrCount);

    internal bool IsCutPoint(int retrNumber) => retrNumber == Volatile.Read(ref _cutAfterRetr);

    internal void RecordFault(Exception fault) => _relay.RecordFault(fault);

    internal void Forget(Pop3ProxyConnection connection) => _relay.Forget(connection);

}
