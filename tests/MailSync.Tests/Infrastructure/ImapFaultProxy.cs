using System.Collections.Concurrent;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A test-only TCP proxy in front of a plain-text IMAP server, listening on 127.0.0.1 (ephemeral port), that
/// injects one-shot faults: cuts (TCP resets of both sides) at chosen points of LOGIN, FETCH and APPEND, or
/// before any command or its tagged response, a
/// stalled server, or an answer made up in the server's place.
/// It follows IMAP framing both ways: a line ending in "{n}" or "{n+}" is followed by exactly n raw bytes
/// (relayed in chunks, never parsed) and then more of the same command or response; a client command ends with
/// the first line without a literal marker; a server line starting with an outstanding tag is that command's
/// tagged response. After AUTHENTICATE or IDLE, client lines up to the tagged response are SASL data or DONE.
/// TLS is not supported and COMPRESS=DEFLATE is removed from capability lists (the proxy could not parse a
/// compressed stream). Faults may be armed at any time from any thread; each applies to the next matching
/// event on any connection, fires once, and disarms.
/// </summary>
public sealed class ImapFaultProxy : IAsyncDisposable
{
    private readonly RelayListener<ImapFaultProxyConnection> _relay = new();
    private readonly ConcurrentDictionary<string, int> _commandCounts = new(StringComparer.Ordinal);
    private readonly Lock _armedGate = new();
    private readonly List<ImapFault> _armed = [];
    private volatile Func<int, (long ClientToServer, long ServerToClient)?>? _cutPlan;
    private int _cutCount;

    private ImapFaultProxy(string upstreamHost, int upstreamPort)
    {
        UpstreamHost = upstreamHost;
        UpstreamPort = upstreamPort;
        _relay.Start((number, socket) => new ImapFaultProxyConnection(this, number, socket));
    }

    /// <summary>Address the proxy listens on.</summary>
    public string Host => "127.0.0.1";

    /// <summary>Ephemeral port the proxy listens on.</summary>
    public int Port => _relay.Port;

    /// <summary>Client connections accepted so far.</summary>
    public int ConnectionCount => _relay.ConnectionCount;

    /// <summary>
    /// Connections the proxy has reset: by a fault, a <see cref="CutPlan"/> offset or <see cref="CutAll"/>.
    /// Counted before the fault's task completes. Resets because a peer went away, or on dispose, do not count.
    /// </summary>
    public int CutCount => Volatile.Read(ref _cutCount);

    /// <summary>
    /// Called once per accepted connection with its 1-based number (see <see cref="ConnectionCount"/>); returns
    /// the byte offsets (client to server, server to client) after which that connection is cut, or null for
    /// no cut. Offsets count bytes relayed in that direction (after the proxy's own rewriting); exactly that
    /// many get through, then both sides are reset. Use long.MaxValue to leave a direction alone; 0 cuts right
    /// after accepting. Runs on the connection's task: an exception from it (or a negative offset) resets the
    /// connection and is rethrown by <see cref="DisposeAsync"/>.
    /// </summary>
    public Func<int, (long ClientToServer, long ServerToClient)?>? CutPlan
    {
        get => _cutPlan;
        set => _cutPlan = value;
    }

    internal string UpstreamHost { get; }

    internal int UpstreamPort { get; }

    /// <summary>Starts listening; connections are relayed to the plain IMAP port given.</summary>
    public static ImapFaultProxy Start(string upstreamHost, int upstreamPort)
    {
        ArgumentException.ThrowIfNullOrEmpty(upstreamHost);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(upstreamPort);
        return new ImapFaultProxy(upstreamHost, upstreamPort);
    }

    /// <summary>
    /// Client commands seen (relayed or not) with this verb, case-insensitive; "UID FETCH" and "FETCH" are
    /// counted apart. SASL lines and IDLE's DONE are not commands.
    /// </summary>
    public int CommandCount(string verb)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(verb);
        return _commandCounts.TryGetValue(ImapFault.NormalizeVerb(verb), out var count) ? count : 0;
    }

    /// <summary>
    /// The next LOGIN or AUTHENTICATE command is not forwarded at all (earlier pipelined commands are); the
    /// connection is cut instead. The task completes once it is cut.
    /// </summary>
    public Task CutDuringLogin() => Arm(new ImapFault(ImapFaultKind.CutDuringLogin));

    /// <summary>
    /// In the next untagged FETCH response carrying a literal larger than <paramref name="afterBytes"/>
    /// (e.g. BODY[] {n}), the line announcing it and the first <paramref name="afterBytes"/> bytes of the
    /// literal reach the client, then the connection is cut. The task completes once it is cut.
    /// </summary>
    public Task CutInFetchLiteral(int afterBytes = 2000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterBytes);
        return Arm(new ImapFault(ImapFaultKind.CutInFetchLiteral, afterBytes: afterBytes));
    }

    /// <summary>
    /// Of the next APPEND command, the line announcing its first literal and the first <paramref name="afterBytes"/>
    /// bytes of that literal (all of it, if it is shorter) reach the server, then the connection is cut, so the
    /// server sees an unfinished APPEND. The task completes once it is cut.
    /// </summary>
    public Task CutInAppendLiteral(int afterBytes = 2000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterBytes);
        return Arm(new ImapFault(ImapFaultKind.CutInAppendLiteral, afterBytes: afterBytes));
    }

    /// <summary>
    /// The next APPEND command is forwarded whole, but the server's tagged response to it is not: the connection
    /// is cut as it arrives, so the server has stored the message (if it said OK) and the client never learns.
    /// The task completes once it is cut.
    /// </summary>
    public Task CutBeforeAppendOk() => Arm(new ImapFault(ImapFaultKind.CutBeforeAppendOk));

    /// <summary>
    /// The next command with <paramref name="verb"/> (e.g. "UID MOVE") is not forwarded at all (earlier pipelined
    /// commands are); the connection is cut instead, so the server never sees it. The task completes once it is cut.
    /// </summary>
    public Task CutBefore(string verb)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(verb);
        return Arm(new ImapFault(ImapFaultKind.CutBefore, verb: verb));
    }

    /// <summary>
    /// The next command with <paramref name="verb"/> (e.g. "UID EXPUNGE") is forwarded whole, and its untagged
    /// responses are relayed, but its tagged response is not: the connection is cut as it arrives, so the server
    /// has done the command (if it said OK) and the client never learns. <see cref="CutBeforeAppendOk"/> for any
    /// verb. The task completes once it is cut.
    /// </summary>
    public Task CutBeforeOk(string verb)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(verb);
        return Arm(new ImapFault(ImapFaultKind.CutBeforeOk, verb: verb));
    }

    /// <summary>
    /// The next command with <paramref name="verb"/> (e.g. "UID FETCH") is forwarded; from then on nothing more
    /// from the server reaches the client, and after <paramref name="duration"/> the connection is cut. The task
    /// completes when the stall starts (the command is on its way to the server), not at the cut.
    /// </summary>
    public Task StallOn(string verb, TimeSpan duration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(verb);
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        return Arm(new ImapFault(ImapFaultKind.StallOn, verb: verb, duration: duration));
    }

    /// <summary>
    /// The next command with <paramref name="verb"/> is not forwarded: its literals are swallowed (a
    /// synchronizing "{n}" literal is answered at once, where the server would have sent "+") and the client
    /// gets "TAG <paramref name="response"/>", e.g. "NO [THROTTLED] Request is throttled." An untagged
    /// response ("* BYE ...") is sent as it is and the connection is then cut. A tagged answer comes once
    /// earlier server responses have been relayed to a response boundary, but may overtake the responses to
    /// earlier pipelined commands. The task completes once the answer is sent (and, if untagged, the cut made).
    /// </summary>
    public Task Answer(string verb, string response)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(verb);
        ArgumentException.ThrowIfNullOrEmpty(response);
        if (response.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("The answer must be one line, without CR or LF.", nameof(response));
        }

        return Arm(new ImapFault(ImapFaultKind.Answer, verb: verb, response: response));
    }

    /// <summary>Resets both sides of every open connection now (each counts in <see cref="CutCount"/>).</summary>
    public void CutAll()
    {
        foreach (var connection in _relay.Open)
        {
            connection.Cut(null);
        }
    }

    /// <summary>
    /// Stops listening, resets every open connection, cancels the tasks of faults that never fired and waits for
    /// the relay tasks; then rethrows the first unexpected error of any connection's relay (a proxy bug, a
    /// throwing <see cref="CutPlan"/>), if there was one.
    /// </summary>
    public ValueTask DisposeAsync() => _relay.DisposeAsync();

    /// <summary>Takes the oldest armed fault of this kind that matches, so no other event can fire it.</summary>
    internal ImapFault? TryTake(ImapFaultKind kind, string? verb = null, Func<ImapFault, bool>? matches = null)
    {
        lock (_armedGate)
        {
            var index = _armed.FindIndex(f => f.Kind == kind && (f.Verb is null || f.Verb == verb) && (matches is null || matches(f)));
            if (index < 0)
            {
                return null;
            }

            var fault = _armed[index];
            _armed.RemoveAt(index);
            return fault;
        }
    }

    internal void CountCommand(string verb) => _commandCounts.AddOrUpdate(verb, 1, (_, count) => count + 1);

    internal void CountCut() => Interlocked.Increment(ref _cutCount);

    internal void RecordFault(Exception fault) => _relay.RecordFault(fault);

    internal void Forget(ImapFaultProxyConnection connection) => _relay.Forget(connection);

    private Task Arm(ImapFault fault)
    {
        ObjectDisposedException.ThrowIf(_relay.IsDisposed, this);
        lock (_armedGate)
        {
            _armed.Add(fault);
        }

        return fault.Fired;
    }

}
