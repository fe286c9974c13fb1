using System.Net.Sockets;
using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// One client connection of an <see cref="ImapFaultProxy"/>: a client pump that relays commands and a server
/// pump that relays responses, each following IMAP framing (lines, and literals of announced length that are
/// relayed in chunks without a look inside). They share the table of outstanding tags, so the server pump knows
/// a tagged response, and what a synchronizing literal's fate is (the server's "+" or a refusal).
/// </summary>
internal sealed class ImapFaultProxyConnection : IRelayConnection
{
    // Long enough for any command line MailKit builds (UID sets of big folders), short enough to catch garbage.
    private const int MaxLineLength = 16 * 1024 * 1024;

    private readonly ImapFaultProxy _proxy;
    private readonly Socket _client;
    private readonly Socket _server = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _closing = new();

    // Held by whoever writes to the client: the server pump from the start of a response with a literal to its
    // end, so that an answer the proxy makes up never lands inside a server response.
    private readonly SemaphoreSlim _clientWriteLock = new(1, 1);

    // Guards the state both pumps touch: outstanding tags, the continuation tag, the synchronizing literal.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, OutstandingCommand> _outstanding = new(StringComparer.Ordinal);
    private string? _continuationTag;
    private string? _syncLiteralTag;
    private SyncLiteralState _syncLiteralState;
    private volatile bool _stalled;
    private Task _stallTimer = Task.CompletedTask;
    private int _closed;

    // Client pump state.
    private ClientCommand? _command;
    private long _clientLiteralLeft;
    private bool _awaitingSyncAnswer;
    private long _appendCutLeft = -1;
    private PendingCut? _clientCut;

    // Server pump state.
    private bool _inResponse;
    private bool _responseIsFetch;
    private long _serverLiteralLeft;
    private long _fetchCutLeft = -1;
    private ImapFault? _fetchCut;
    private PendingCut? _serverCut;

    public ImapFaultProxyConnection(ImapFaultProxy proxy, int id, Socket client)
    {
        _proxy = proxy;
        Id = id;
        _client = client;
        _client.NoDelay = true;
        _server.NoDelay = true;
    }

    private enum SyncLiteralState
    {
        None,

        /// <summary>The line announcing it is on its way; the server answers "+" or refuses with a tagged response.</summary>
        Waiting,

        /// <summary>The server sent "+": the client sends the bytes.</summary>
        Accepted,

        /// <summary>The server ended the command instead: the client sends no bytes, its next line is a new command.</summary>
        Refused,
    }

    /// <summary>1-based number of the connection, in accept order.</summary>
    public int Id { get; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.Run(RunAsync);

    /// <summary>Resets both sides (RST, unsent data discarded) and stops both pumps; not counted as a cut.</summary>
    public void Abort() => Close(reset: true);

    /// <summary>Resets both sides as a fault (counted, unless the connection was closed already), then marks <paramref name="fault"/> fired.</summary>
    public void Cut(ImapFault? fault)
    {
        Close(reset: true, countAsCut: true);
        fault?.MarkFired();
    }

    private static bool IsConnectionEnd(Exception e) =>
        e is IOException or SocketException or ObjectDisposedException or OperationCanceledException;

    private async Task RunAsync()
    {
        ImapInbound? fromClient = null;
        ImapInbound? fromServer = null;
        ImapOutbound? toClient = null;
        ImapOutbound? toServer = null;
        try
        {
            var plan = _proxy.CutPlan?.Invoke(Id);
            try
            {
                await _server.ConnectAsync(_proxy.UpstreamHost, _proxy.UpstreamPort, _closing.Token);
            }
            catch (Exception e) when (IsConnectionEnd(e))
            {
                return;
            }

            fromClient = new ImapInbound(_client, MaxLineLength);
            fromServer = new ImapInbound(_server, MaxLineLength);
            toServer = new ImapOutbound(_server, plan?.ClientToServer ?? long.MaxValue);
            toClient = new ImapOutbound(_client, plan?.ServerToClient ?? long.MaxValue);
            if (toServer.LimitReached || toClient.LimitReached)
            {
                Cut(null);
                return;
            }

            await Task.WhenAll(PumpClientAsync(fromClient, toServer), PumpServerAsync(fromServer, toClient));
        }
        catch (Exception e)
        {
            // Connection ends are handled in the pumps; this is a proxy bug or a throwing CutPlan.
            _proxy.RecordFault(e);
        }
        finally
        {
            Close(reset: false);
            await _stallTimer;
            // Both pumps are done, so no socket operation still uses these buffers.
            fromClient?.Dispose();
            fromServer?.Dispose();
            toClient?.Dispose();
            toServer?.Dispose();
            _proxy.Forget(this);
        }
    }

    private async Task PumpClientAsync(ImapInbound input, ImapOutbound toServer)
    {
        try
        {
            while (await input.ReadAsync(_closing.Token))
            {
                while (ProcessClientInput(input, toServer) is { } answer)
                {
                    // Commands before the answered one reach the server first, as they would have.
                    await toServer.FlushAsync(_closing.Token);
                    await AnswerAsync(answer);
                }

                await toServer.FlushAsync(_closing.Token);
                if (_clientCut is not null || toServer.LimitReached)
                {
                    Cut(_clientCut?.Fault);
                    return;
                }
            }

            // The client is done sending; let the server see it and finish its answers.
            _server.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Abort();
        }
        catch
        {
            Abort(); // a bug: stop the other pump too, then report it
            throw;
        }
    }

    /// <summary>
    /// Relays what it can of the client's bytes into <paramref name="toServer"/>; stops when it needs more
    /// bytes, a cut is due, or a command must be answered by the proxy (returned).
    /// </summary>
    private PendingAnswer? ProcessClientInput(ImapInbound input, ImapOutbound toServer)
    {
        while (_clientCut is null && !toServer.LimitReached && input.Length > 0)
        {
            if (_awaitingSyncAnswer)
            {
                // The client only goes on once it has the server's answer to its "{n}", and the server pump
                // records that answer before relaying it, so it is known by now.
                _awaitingSyncAnswer = false;
                bool refused;
                lock (_gate)
                {
                    refused = _syncLiteralState == SyncLiteralState.Refused;
                    _syncLiteralTag = null;
                    _syncLiteralState = SyncLiteralState.None;
                }

                if (refused)
                {
                    _command = null;
                    _clientLiteralLeft = 0;
                    _appendCutLeft = -1;
                    continue;
                }
            }

            if (_clientLiteralLeft > 0)
            {
                RelayClientLiteral(input, toServer);
                continue;
            }

            if (!input.TryFindLine(out var length))
            {
                return null;
            }

            var answer = HandleClientLine(input.Data[..length], toServer);
            input.Consume(length);
            if (answer is not null)
            {
                return answer;
            }
        }

        return null;
    }

    private void RelayClientLiteral(ImapInbound input, ImapOutbound toServer)
    {
        var take = (int)Math.Min(_clientLiteralLeft, input.Length);
        if (_command?.Answer is null)
        {
            if (_appendCutLeft >= 0)
            {
                take = (int)Math.Min(take, _appendCutLeft);
                _appendCutLeft -= take;
                if (_appendCutLeft == 0)
                {
                    _clientCut = new PendingCut(_command?.AppendCut);
                }
            }

            toServer.Write(input.Data[..take]);
        }

        // else: the command is answered by the proxy, its bytes go nowhere.
        input.Consume(take);
        _clientLiteralLeft -= take;
    }

    /// <summary>One client line: a command's first line, the text after one of its literals, or SASL data/DONE.</summary>
    private PendingAnswer? HandleClientLine(ReadOnlySpan<byte> line, ImapOutbound toServer)
    {
        if (_command is null)
        {
            bool continuation;
            lock (_gate)
            {
                continuation = _continuationTag is not null;
            }

            if (continuation)
            {
                // The answer to a "+" of AUTHENTICATE, or IDLE's DONE: not a command, no response of its own.
                toServer.Write(line);
                return null;
            }

            var (tag, verb) = ImapSyntax.ParseCommand(line);
            _proxy.CountCommand(verb);
            if (StartCommand(tag, verb) is { } cutBefore)
            {
                _clientCut = new PendingCut(cutBefore);
                return null;
            }
        }

        var command = _command!;
        var literal = ImapSyntax.LiteralLength(line, out var synchronizing);
        if (command.Answer is { } fault)
        {
            if (literal < 0 || synchronizing)
            {
                // End of the command, or the client waits for "+": either way it is the proxy's turn to answer.
                _command = null;
                _clientLiteralLeft = 0;
                return new PendingAnswer(command.Tag, fault);
            }

            _clientLiteralLeft = literal;
            return null;
        }

        if (synchronizing)
        {
            // Recorded before the line can reach the server, so the server pump finds it when the answer comes.
            lock (_gate)
            {
                _syncLiteralTag = command.Tag;
                _syncLiteralState = SyncLiteralState.Waiting;
            }

            _awaitingSyncAnswer = true;
        }

        toServer.Write(line);
        if (literal < 0)
        {
            _command = null;
            return null;
        }

        _clientLiteralLeft = literal;
        if (command.AppendCut is { } appendCut && !command.AppendCutStarted)
        {
            command.AppendCutStarted = true;
            _appendCutLeft = Math.Min(appendCut.AfterBytes, literal);
            if (_appendCutLeft == 0)
            {
                _clientCut = new PendingCut(appendCut);
            }
        }

        return null;
    }

    /// <summary>
    /// Takes the fault (at most one) that applies to a new command and registers the command as outstanding
    /// unless the proxy answers it; returns a login cut or a cut before the command, which forward nothing of it.
    /// </summary>
    private ImapFault? StartCommand(string tag, string verb)
    {
        if (verb is "LOGIN" or "AUTHENTICATE" && _proxy.TryTake(ImapFaultKind.CutDuringLogin) is { } loginCut)
        {
            return loginCut;
        }

        if (_proxy.TryTake(ImapFaultKind.CutBefore, verb) is { } cutBefore)
        {
            return cutBefore;
        }

        var command = new ClientCommand(tag) { Answer = _proxy.TryTake(ImapFaultKind.Answer, verb) };
        _command = command;
        if (command.Answer is not null)
        {
            return null;
        }

        ImapFault? cutOnTagged = null;
        if (verb == "APPEND")
        {
            command.AppendCut = _proxy.TryTake(ImapFaultKind.CutInAppendLiteral);
            cutOnTagged = command.AppendCut is null ? _proxy.TryTake(ImapFaultKind.CutBeforeAppendOk) : null;
        }

        if (command.AppendCut is null && cutOnTagged is null)
        {
            cutOnTagged = _proxy.TryTake(ImapFaultKind.CutBeforeOk, verb);
        }

        if (command.AppendCut is null && cutOnTagged is null && _proxy.TryTake(ImapFaultKind.StallOn, verb) is { } stall)
        {
            // Set before the command can reach the server, so not a byte of its response gets through.
            _stalled = true;
            _stallTimer = StallThenCutAsync(stall.Duration);
            stall.MarkFired();
        }

        lock (_gate)
        {
            _outstanding[tag] = new OutstandingCommand(verb, cutOnTagged);
            if (verb is "AUTHENTICATE" or "IDLE")
            {
                _continuationTag = tag;
            }
        }

        return null;
    }

    private async Task StallThenCutAsync(TimeSpan duration)
    {
        try
        {
            await Task.Delay(duration, _closing.Token);
        }
        catch (OperationCanceledException)
        {
            return; // the connection ended before the stall did
        }

        Cut(null);
    }

    /// <summary>Sends the made-up response in place of the server's; an untagged one ends the connection.</summary>
    private async ValueTask AnswerAsync(PendingAnswer answer)
    {
        var response = answer.Fault.Response!;
        var untagged = response.StartsWith("* ", StringComparison.Ordinal);
        var bytes = Encoding.Latin1.GetBytes(untagged ? response + "\r\n" : $"{answer.Tag} {response}\r\n");
        await _clientWriteLock.WaitAsync(_closing.Token);
        try
        {
            var sent = 0;
            while (sent < bytes.Length)
            {
                sent += await _client.SendAsync(bytes.AsMemory(sent), SocketFlags.None, _closing.Token);
            }
        }
        finally
        {
            _clientWriteLock.Release();
        }

        if (untagged)
        {
            _clientCut = new PendingCut(answer.Fault);
        }
        else
        {
            answer.Fault.MarkFired();
        }
    }

    private async Task PumpServerAsync(ImapInbound input, ImapOutbound toClient)
    {
        var holding = false;
        try
        {
            while (await input.ReadAsync(_closing.Token))
            {
                if (_stalled)
                {
                    await WaitForCutAsync();
                }

                if (!holding)
                {
                    await _clientWriteLock.WaitAsync(_closing.Token);
                    holding = true;
                }

                ProcessServerInput(input, toClient);
                if (_stalled)
                {
                    // The stall began while these bytes were on their way: they stay with the proxy.
                    toClient.Discard();
                    await WaitForCutAsync();
                }

                await toClient.FlushAsync(_closing.Token);
                if (_serverCut is not null || toClient.LimitReached)
                {
                    Cut(_serverCut?.Fault);
                    return;
                }

                if (!_inResponse)
                {
                    _clientWriteLock.Release();
                    holding = false;
                }
            }

            if (_stalled)
            {
                await WaitForCutAsync(); // a stall hides the server's close as well, until its cut
            }

            // The server closed (after BYE, or on its own); the client is told by a normal close.
            Close(reset: false);
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Abort();
        }
        catch
        {
            Abort(); // a bug: stop the other pump too, then report it
            throw;
        }
        finally
        {
            if (holding)
            {
                _clientWriteLock.Release();
            }
        }
    }

    /// <summary>A stalled connection relays nothing more from the server; the stall timer cuts it.</summary>
    private Task WaitForCutAsync() => Task.Delay(Timeout.Infinite, _closing.Token);

    /// <summary>Relays what it can of the server's bytes into <paramref name="toClient"/>; stops when it needs more or a cut is due.</summary>
    private void ProcessServerInput(ImapInbound input, ImapOutbound toClient)
    {
        while (_serverCut is null && !toClient.LimitReached && input.Length > 0)
        {
            if (_serverLiteralLeft > 0)
            {
                var take = (int)Math.Min(_serverLiteralLeft, input.Length);
                if (_fetchCutLeft >= 0)
                {
                    take = (int)Math.Min(take, _fetchCutLeft);
                    _fetchCutLeft -= take;
                    if (_fetchCutLeft == 0)
                    {
                        _serverCut = new PendingCut(_fetchCut);
                    }
                }

                toClient.Write(input.Data[..take]);
                input.Consume(take);
                _serverLiteralLeft -= take;
                continue;
            }

            if (!input.TryFindLine(out var length))
            {
                return;
            }

            HandleServerLine(input.Data[..length], toClient);
            input.Consume(length);
        }
    }

    /// <summary>One server line: a response's first line, or the text after one of its literals.</summary>
    private void HandleServerLine(ReadOnlySpan<byte> line, ImapOutbound toClient)
    {
        byte[]? rewritten = null;
        if (!_inResponse)
        {
            var first = ImapSyntax.FirstToken(line);
            _responseIsFetch = false;
            if (first.SequenceEqual("*"u8))
            {
                _responseIsFetch = ImapSyntax.IsFetchResponse(line);
                rewritten = ImapSyntax.WithoutCompress(line);
            }
            else if (first.SequenceEqual("+"u8))
            {
                lock (_gate)
                {
                    if (_syncLiteralState == SyncLiteralState.Waiting)
                    {
                        _syncLiteralState = SyncLiteralState.Accepted;
                    }
                }
            }
            else if (CompleteCommand(Encoding.Latin1.GetString(first)) is { } cutOnTagged)
            {
                // Not relayed: the server has done the work, the client never hears of it.
                _serverCut = new PendingCut(cutOnTagged);
                return;
            }
            else
            {
                rewritten = ImapSyntax.WithoutCompress(line); // "TAG OK [CAPABILITY ...]" after login
            }
        }

        toClient.Write(rewritten ?? line);
        var literal = ImapSyntax.LiteralLength(line, out _);
        _inResponse = literal >= 0;
        if (literal < 0)
        {
            return;
        }

        _serverLiteralLeft = literal;
        if (_responseIsFetch && literal > 0
            && _proxy.TryTake(ImapFaultKind.CutInFetchLiteral, matches: f => literal > f.AfterBytes) is { } fetchCut)
        {
            _fetchCut = fetchCut;
            _fetchCutLeft = fetchCut.AfterBytes;
            if (_fetchCutLeft == 0)
            {
                _serverCut = new PendingCut(fetchCut);
            }
        }
    }

    /// <summary>Retires the command a tagged response ends; returns its cut-on-tagged fault, if it has one.</summary>
    private ImapFault? CompleteCommand(string tag)
    {
        lock (_gate)
        {
            if (!_outstanding.Remove(tag, out var command))
            {
                return null; // not a tag of ours: relay the line as it is
            }

            if (_continuationTag == tag)
            {
                _continuationTag = null;
            }

            if (_syncLiteralTag == tag && _syncLiteralState == SyncLiteralState.Waiting)
            {
                _syncLiteralState = SyncLiteralState.Refused;
            }

            return command.CutOnTagged;
        }
    }

    /// <summary>Closes both sockets, once.</summary>
    private void Close(bool reset, bool countAsCut = false)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        if (countAsCut)
        {
            // Counted before the reset goes out, so a client that has seen it also sees the count.
            _proxy.CountCut();
        }

        _closing.Cancel();
        RelaySockets.Close(reset, _client, _server);
    }

    /// <summary>A client command relayed to the server and not answered yet.</summary>
    /// <param name="Verb">Upper-case verb, "UID FETCH" style.</param>
    /// <param name="CutOnTagged">A <see cref="ImapFaultKind.CutBeforeAppendOk"/> or <see cref="ImapFaultKind.CutBeforeOk"/> fault: cut instead of relaying the tagged response.</param>
    private sealed record OutstandingCommand(string Verb, ImapFault? CutOnTagged);

    /// <summary>A cut the pump makes once it has flushed what came before; the fault (if any) is marked fired.</summary>
    private sealed record PendingCut(ImapFault? Fault);

    /// <summary>A command the proxy answers itself.</summary>
    private sealed record PendingAnswer(string Tag, ImapFault Fault);

    /// <summary>The client command whose lines and literals are coming in.</summary>
    private sealed class ClientCommand(string tag)
    {
        public string Tag { get; } = tag;

        /// <summary>Set: the proxy answers, nothing of the command is forwarded.</summary>
        public ImapFault? Answer { get; init; }

        public ImapFault? AppendCut { get; set; }

        public bool AppendCutStarted { get; set; }
    }
}
