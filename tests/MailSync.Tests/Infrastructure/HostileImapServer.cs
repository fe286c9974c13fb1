using System.Collections.Concurrent;

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
    private readonly RelayListener<HostileImapConnection> _relay = new();
    private readonly ConcurrentDictionary<string, int> _commandCounts = new(StringComparer.Ordinal);
    private volatile HostileMode _mode;
    private volatile HostileOptions _options;
    private int _firedCount;
    private int _mappedCount;

    private HostileImapServer(string upstreamHost, int upstreamPort, HostileMode mode, HostileOptions options)
    {
        UpstreamHost = upstreamHost;
        UpstreamPort = upstreamPort;
        _mode = mode;
        _options = options;
        _relay.Start((number, socket) => new HostileImapConnection(this, number, socket, _mode, _options));
    }

    /// <summary>Address the server listens on.</summary>
    public string Host => "127.0.0.1";

    /// <summary>Ephemeral port the server listens on.</summary>
    public int Port => _relay.Port;

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
    public int ConnectionCount => _relay.ConnectionCount;

    /// <summary>Connections not closed yet (a take-over ends when its client goes away).</summary>
    public int OpenConnections => _relay.Open.Count;

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
    public ValueTask DisposeAsync() => _relay.DisposeAsync();

    internal void CountCommand(string verb) => _commandCounts.AddOrUpdate(verb, 1, (_, count) => count + 1);

    internal void CountFired() => Interlocked.Increment(ref _firedCount);

    private int _bodyFetchHookTaken;

    /// <summary>Whether this caller is the first to reach <see cref="HostileOptions.BeforeBodyFetch"/>.</summary>
    internal bool TakeBodyFetchHook() => Interlocked.Exchange(ref _bodyFetchHookTaken, 1) == 0;

    internal void CountMapped() => Interlocked.Increment(ref _mappedCount);

    internal void RecordFault(Exception fault) => _relay.RecordFault(fault);

    internal void Forget(HostileImapConnection connection) => _relay.Forget(connection);

}
