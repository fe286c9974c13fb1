using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The test suite's own broken or hostile IMAP server (issue 19): it listens on 127.0.0.1 (ephemeral port) and relays
/// each connection to a real plain-text IMAP server (a test Dovecot), misbehaving as its <see cref="Mode"/> says
/// (one misbehaviour per mode, see <see cref="HostileMode"/>) and otherwise relaying faithfully. It follows IMAP
/// framing both ways (a line ending in "{n}" is followed by exactly n raw bytes), so what it does not rewrite reaches
/// the other side byte for byte. TLS is not supported, and COMPRESS=DEFLATE is removed from capability lists.
/// <para>
/// <see cref="Mode"/> and <see cref="Options"/> may be changed at any time, from any thread; each connection takes
/// them as they are when it is accepted and keeps them to its end. Set <see cref="Mode"/> to
/// <see cref="HostileMode.None"/> to have the next connections (a re-run) meet a well-behaved server.
/// </para>
/// </summary>
public sealed class HostileImapServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<int, HostileImapConnection> _connections = new();
    private readonly ConcurrentQueue<Exception> _faults = new();
    private readonly ConcurrentDictionary<string, int> _commandCounts = new(StringComparer.Ordinal);
    private readonly Task _acceptLoop;
    private volatile HostileMode _mode;
    private volatile HostileOptions _options;
    private int _connectionCount;
    private int _firedCount;
    private int _mappedCount;
    private int _disposed;

    private HostileImapServer(string upstreamHost, int upstreamPort, HostileMode mode, HostileOptions options)
    {
        UpstreamHost = upstreamHost;
        UpstreamPort = upstreamPort;
        _mode = mode;
        _options = options;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Address the server listens on.</summary>
    public string Host => "127.0.0.1";

    /// <summary>Ephemeral port the server listens on.</summary>
    public int Port { get; }

    /// <summary>How connections accepted from now on misbehave.</summary>
    public HostileMode Mode
    {
        get => _mode;
        set => _mode = value;
    }

    /// <summary>The knobs of the modes, for connections accepted from now on.</summary>
    public HostileOptions Options
    {
        get => _options;
        set => _options = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Client connections accepted so far.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>Connections not closed yet (a take-over ends when its client goes away).</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>
    /// How many times a misbehaviour was done: a greeting, an answer, a take-over, an injected or rewritten response
    /// each count one. Zero after a run means the run never met the mode.
    /// </summary>
    public int FiredCount => Volatile.Read(ref _firedCount);

    /// <summary><see cref="HostileMode.BadFolderName"/>: commands whose mailbox argument was mapped to the real folder.</summary>
    public int MappedCount => Volatile.Read(ref _mappedCount);

    internal string UpstreamHost { get; }

    internal int UpstreamPort { get; }

    /// <summary>Starts listening; connections are relayed to the plain IMAP port given.</summary>
    public static HostileImapServer Start(string upstreamHost, int upstreamPort, HostileMode mode, HostileOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(upstreamHost);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(upstreamPort);
        return new HostileImapServer(upstreamHost, upstreamPort, mode, options ?? new HostileOptions());
    }

    /// <summary>Starts listening in front of <paramref name="upstream"/>'s plain IMAP port.</summary>
    public static HostileImapServer Start(IImapTestServer upstream, HostileMode mode, HostileOptions? options = null)
        => Start(upstream.Host, upstream.ImapPort, mode, options);

    /// <summary>
    /// Client commands seen (forwarded, rewritten or answered; not those a take-over swallowed) with this verb,
    /// case-insensitive; "UID FETCH" and "FETCH" are counted apart. SASL lines and IDLE's DONE are not commands.
    /// </summary>
    public int CommandCount(string verb)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(verb);
        return _commandCounts.TryGetValue(ImapFault.NormalizeVerb(verb), out var count) ? count : 0;
    }

    /// <summary>
    /// Stops listening, resets every open connection (ending every endless stream) and waits for the relay tasks;
    /// then rethrows the first unexpected error of any connection's relay (a bug of the relay), if there was one.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        var open = _connections.Values.ToList();
        foreach (var connection in open)
        {
            connection.Abort();
        }

        try
        {
            await Task.WhenAll(open.Select(c => c.Completion));
        }
        finally
        {
            _stopping.Dispose();
        }

        if (_faults.TryPeek(out var fault))
        {
            ExceptionDispatchInfo.Capture(fault).Throw();
        }
    }

    internal void CountCommand(string verb) => _commandCounts.AddOrUpdate(verb, 1, (_, count) => count + 1);

    internal void CountFired() => Interlocked.Increment(ref _firedCount);

    private int _bodyFetchHookTaken;

    /// <summary>Whether this caller is the first to reach <see cref="HostileOptions.BeforeBodyFetch"/>.</summary>
    internal bool TakeBodyFetchHook() => Interlocked.Exchange(ref _bodyFetchHookTaken, 1) == 0;

    internal void CountMapped() => Interlocked.Increment(ref _mappedCount);

    internal void RecordFault(Exception fault) => _faults.Enqueue(fault);

    internal void Forget(HostileImapConnection connection) => _connections.TryRemove(connection.Id, out _);

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException
                || (e is SocketException && _stopping.IsCancellationRequested))
            {
                return;
            }

            var connection = new HostileImapConnection(this, Interlocked.Increment(ref _connectionCount), socket, _mode, _options);
            _connections[connection.Id] = connection;
            connection.Start();
        }
    }
}
