using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// One client connection of a <see cref="Pop3Proxy"/>: a client pump that forwards command lines
/// (recording each in a FIFO) and a server pump that relays responses, matching each to the oldest
/// unanswered command to know whether a dot-terminated body follows. Bodies are relayed line by line
/// straight out of the read buffer, without per-line allocation; only command and status lines are decoded.
/// </summary>
internal sealed class Pop3ProxyConnection : IRelayConnection
{
    private const int MaxStatusLine = 64 * 1024;
    private const int MaxClientLine = 1024 * 1024;
    private const int ReadBufferSize = 64 * 1024;

    private readonly Pop3Proxy _proxy;
    private readonly Socket _client;
    private readonly Socket _server = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _closing = new();
    private readonly Queue<PendingCommand> _pending = new();
    private readonly SemaphoreSlim _clientWriteLock = new(1, 1);
    private PipeWriter _toClient = null!;
    private PipeWriter _toServer = null!;
    private TaskCompletionSource? _drained;
    private volatile bool _saslResponseExpected;
    private int _closed;

    // Server pump state: the response being relayed.
    private PendingCommand? _current;
    private bool _inBody;
    private bool _atLineStart = true;
    private long _responseBytes;
    private string _statusLine = "";
    private bool _responseIsMultiLine;

    public Pop3ProxyConnection(Pop3Proxy proxy, int id, Socket client)
    {
        _proxy = proxy;
        Id = id;
        _client = client;
        _client.NoDelay = true;
        _server.NoDelay = true;
        // The greeting is the answer to "connecting".
        _pending.Enqueue(new PendingCommand(null, ResponseShape.SingleLine));
    }

    private enum ResponseShape
    {
        SingleLine,

        /// <summary>+OK is followed by a dot-terminated body; -ERR is one line.</summary>
        MultiLineOnOk,

        /// <summary>AUTH with a mechanism: "+ " continuation lines until +OK or -ERR.</summary>
        Sasl,
    }

    public int Id { get; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.Run(RunAsync);

    /// <summary>Resets both sides (RST, unsent data discarded) and stops both pumps.</summary>
    public void Abort() => Close(reset: true);

    private async Task RunAsync()
    {
        try
        {
            try
            {
                await _server.ConnectAsync(_proxy.UpstreamHost, _proxy.UpstreamPort, _closing.Token);
            }
            catch (Exception e) when (IsConnectionEnd(e))
            {
                return;
            }

            await using var clientStream = new NetworkStream(_client, ownsSocket: false);
            await using var serverStream = new NetworkStream(_server, ownsSocket: false);
            _toClient = PipeWriter.Create(clientStream, new StreamPipeWriterOptions(leaveOpen: true));
            _toServer = PipeWriter.Create(serverStream, new StreamPipeWriterOptions(leaveOpen: true));
            var fromClient = PipeReader.Create(clientStream, new StreamPipeReaderOptions(bufferSize: ReadBufferSize, leaveOpen: true));
            var fromServer = PipeReader.Create(serverStream, new StreamPipeReaderOptions(bufferSize: ReadBufferSize, leaveOpen: true));
            try
            {
                await Task.WhenAll(PumpClientAsync(fromClient), PumpServerAsync(fromServer));
            }
            finally
            {
                await fromClient.CompleteAsync();
                await fromServer.CompleteAsync();
                // Completing a writer flushes what is left, which fails once its socket is gone.
                await CompleteQuietlyAsync(_toClient);
                await CompleteQuietlyAsync(_toServer);
            }
        }
        catch (Exception e)
        {
            // Connection ends are handled in the pumps; this is a bug or a throwing hook.
            _proxy.RecordFault(e);
        }
        finally
        {
            Close(reset: false);
            _proxy.Forget(this);
        }
    }

    private async Task PumpClientAsync(PipeReader reader)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_closing.Token);
                var buffer = result.Buffer;
                string? refusal = null;
                var cut = false;
                while (refusal is null && !cut && TryTakeLine(ref buffer, out var line))
                {
                    (refusal, cut) = HandleClientLine(line);
                }

                if (result.IsCompleted && refusal is null && !cut && !buffer.IsEmpty)
                {
                    WriteTo(_toServer, buffer); // an unterminated last line: pass it on as it is
                    buffer = buffer.Slice(buffer.End);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (cut)
                {
                    Abort();
                    return;
                }

                await _toServer.FlushAsync(_closing.Token);
                if (refusal is not null)
                {
                    await RefuseAsync(refusal);
                    return;
                }

                if (result.IsCompleted)
                {
                    // The client is done sending; let the server see it and finish its answers.
                    _server.Shutdown(SocketShutdown.Send);
                    return;
                }

                if (buffer.Length > MaxClientLine)
                {
                    Abort();
                    return;
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Abort();
        }
        catch
        {
            Abort(); // a bug or a throwing hook: stop the other pump too, then report it
            throw;
        }
    }

    /// <summary>Forwards (or rewrites) one client line; returns a refusal line or a cut instead when due.</summary>
    private (string? Refusal, bool Cut) HandleClientLine(ReadOnlySequence<byte> line)
    {
        if (_saslResponseExpected)
        {
            // The answer to a "+ " continuation is SASL data, not a command: no response of its own.
            _saslResponseExpected = false;
            WriteTo(_toServer, line);
            return (null, false);
        }

        var text = Encoding.Latin1.GetString(line).TrimEnd('\r', '\n');
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        var verb = (space < 0 ? text : text[..space]).ToUpperInvariant();
        var hasArgument = space >= 0 && !string.IsNullOrWhiteSpace(text[(space + 1)..]);

        var isLogin = verb is "PASS" or "APOP" || (verb == "AUTH" && hasArgument);
        if (isLogin && _proxy.TryTakeRefusal(out var errLine))
        {
            return (errLine, false);
        }

        var rewrite = verb == "STLS" || (verb == "UIDL" && _proxy.HideUidl);
        var shape = rewrite ? ResponseShape.SingleLine : ShapeOf(verb, hasArgument);
        int inFlight;
        lock (_pending)
        {
            inFlight = _pending.Count;
        }

        if (_proxy.OnClientCommand?.Invoke(new Pop3ProxyCommand(Id, verb, text, inFlight)) == Pop3ProxyAction.Cut)
        {
            return (null, true);
        }

        // Queued before it is sent, so the server pump always finds the command its response answers.
        lock (_pending)
        {
            _pending.Enqueue(new PendingCommand(verb, shape));
        }

        if (rewrite)
        {
            // An unknown command: the server answers -ERR, in order, as it would without the extension.
            _toServer.Write("X"u8);
        }

        WriteTo(_toServer, line);
        return (null, false);
    }

    private static ResponseShape ShapeOf(string verb, bool hasArgument) => verb switch
    {
        "CAPA" or "RETR" or "TOP" => ResponseShape.MultiLineOnOk,
        "LIST" or "UIDL" when !hasArgument => ResponseShape.MultiLineOnOk,
        "AUTH" => hasArgument ? ResponseShape.Sasl : ResponseShape.MultiLineOnOk, // bare AUTH lists mechanisms
        _ => ResponseShape.SingleLine,
    };

    /// <summary>Answers a login attempt in place of the server, after every earlier response, then closes.</summary>
    private async Task RefuseAsync(string errLine)
    {
        Task drained;
        lock (_pending)
        {
            drained = _pending.Count == 0 ? Task.CompletedTask : (_drained = new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        await drained.WaitAsync(_closing.Token);
        await _clientWriteLock.WaitAsync(_closing.Token);
        try
        {
            _toClient.Write(Encoding.Latin1.GetBytes(errLine + "\r\n"));
            await _toClient.FlushAsync(_closing.Token);
        }
        finally
        {
            _clientWriteLock.Release();
        }

        Close(reset: false);
    }

    private async Task PumpServerAsync(PipeReader reader)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_closing.Token);
                var buffer = result.Buffer;
                bool cut;
                await _clientWriteLock.WaitAsync(_closing.Token);
                try
                {
                    (cut, buffer) = await RelayAsync(buffer, result.IsCompleted);
                    if (!cut)
                    {
                        await _toClient.FlushAsync(_closing.Token);
                    }
                }
                finally
                {
                    _clientWriteLock.Release();
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (cut)
                {
                    Abort();
                    return;
                }

                if (result.IsCompleted)
                {
                    Close(reset: false);
                    return;
                }

                if (!_inBody && buffer.Length > MaxStatusLine)
                {
                    Abort();
                    return;
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Abort();
        }
        catch
        {
            Abort(); // a bug or a throwing hook: stop the other pump too, then report it
            throw;
        }
    }

    /// <summary>
    /// Relays what it can of <paramref name="buffer"/>; returns whether to cut and what is left unconsumed
    /// (an incomplete status line, or a body line start that might be the terminator).
    /// </summary>
    private async ValueTask<(bool Cut, ReadOnlySequence<byte> Remaining)> RelayAsync(ReadOnlySequence<byte> buffer, bool final)
    {
        while (!buffer.IsEmpty)
        {
            if (!TryTakeLine(ref buffer, out var line))
            {
                if (final)
                {
                    WriteTo(_toClient, buffer); // the server's unterminated last words
                    return (false, buffer.Slice(buffer.End));
                }

                var mayBeTerminator = _atLineStart && buffer.FirstSpan[0] == (byte)'.' && buffer.Length <= 2;
                if (_inBody && !mayBeTerminator && _current?.Verb != "CAPA")
                {
                    // Part of a long body line: relay it now, it cannot be the terminator
                    // (CAPA lines are short and are kept whole so that filtering sees them).
                    WriteTo(_toClient, buffer);
                    _responseBytes += buffer.Length;
                    _atLineStart = false;
                    return (false, buffer.Slice(buffer.End));
                }

                return (false, buffer);
            }

            if (_inBody)
            {
                var lineStart = _atLineStart;
                _atLineStart = true;
                if (lineStart && IsTerminator(line))
                {
                    WriteTo(_toClient, line);
                    _responseBytes += line.Length;
                    _inBody = false;
                    if (await CompleteResponseAsync())
                    {
                        return (true, buffer);
                    }
                }
                else if (!(lineStart && _current?.Verb == "CAPA" && IsHiddenCapability(line)))
                {
                    WriteTo(_toClient, line);
                    _responseBytes += line.Length;
                }

                continue;
            }

            PendingCommand? head;
            lock (_pending)
            {
                head = _pending.TryPeek(out var next) ? next : null;
            }

            WriteTo(_toClient, line);
            if (head?.Shape == ResponseShape.Sasl && IsContinuation(line))
            {
                // The client's next line answers this challenge; set before the client can see it.
                _saslResponseExpected = true;
                continue;
            }

            _current = head;
            _responseBytes = line.Length;
            _statusLine = Encoding.Latin1.GetString(line).TrimEnd('\r', '\n');
            _responseIsMultiLine = head?.Shape == ResponseShape.MultiLineOnOk && StartsWithOk(line);
            if (_responseIsMultiLine)
            {
                _inBody = true;
                _atLineStart = true;
            }
            else if (await CompleteResponseAsync())
            {
                return (true, buffer);
            }
        }

        return (false, buffer);
    }

    /// <summary>Flushes the finished response, retires its command and runs the fault rules; true = cut.</summary>
    private async ValueTask<bool> CompleteResponseAsync()
    {
        var current = _current;
        _current = null;
        var retrNumber = current?.Verb == "RETR" ? _proxy.CountRetr() : 0;
        await _toClient.FlushAsync(_closing.Token);
        if (current is not null)
        {
            lock (_pending)
            {
                _pending.Dequeue();
                if (_pending.Count == 0 && _drained is not null)
                {
                    _drained.TrySetResult();
                    _drained = null;
                }
            }
        }

        var cut = retrNumber > 0 && _proxy.IsCutPoint(retrNumber);
        var hook = _proxy.OnServerResponse;
        if (hook is not null)
        {
            cut |= hook(new Pop3ProxyResponse(Id, current?.Verb, _statusLine, _responseIsMultiLine, _responseBytes)) == Pop3ProxyAction.Cut;
        }

        return cut;
    }

    private bool IsHiddenCapability(ReadOnlySequence<byte> line)
    {
        Span<byte> start = stackalloc byte[6];
        var length = (int)Math.Min(line.Length, start.Length);
        line.Slice(0, length).CopyTo(start);
        var name = start[..length];
        return IsCapability(name, "STLS"u8) || (_proxy.HideUidl && IsCapability(name, "UIDL"u8));
    }

    /// <summary>Whether a CAPA line (its first bytes) names <paramref name="capability"/>, ignoring case and arguments.</summary>
    private static bool IsCapability(ReadOnlySpan<byte> lineStart, ReadOnlySpan<byte> capability)
    {
        if (lineStart.Length <= capability.Length || !Ascii.EqualsIgnoreCase(lineStart[..capability.Length], capability))
        {
            return false;
        }

        return lineStart[capability.Length] is (byte)' ' or (byte)'\r' or (byte)'\n';
    }

    private static bool IsTerminator(ReadOnlySequence<byte> line)
    {
        Span<byte> bytes = stackalloc byte[3];
        if (line.Length > bytes.Length)
        {
            return false;
        }

        line.CopyTo(bytes);
        var span = bytes[..(int)line.Length];
        return span.SequenceEqual(".\r\n"u8) || span.SequenceEqual(".\n"u8);
    }

    private static bool IsContinuation(ReadOnlySequence<byte> line)
    {
        if (line.Length < 2)
        {
            return false;
        }

        Span<byte> start = stackalloc byte[2];
        line.Slice(0, 2).CopyTo(start);
        return start[0] == (byte)'+' && start[1] is (byte)' ' or (byte)'\r' or (byte)'\n';
    }

    private static bool StartsWithOk(ReadOnlySequence<byte> line)
    {
        Span<byte> start = stackalloc byte[3];
        if (line.Length < start.Length)
        {
            return false;
        }

        line.Slice(0, start.Length).CopyTo(start);
        return Ascii.EqualsIgnoreCase(start, "+OK"u8);
    }

    /// <summary>Takes one line, LF included, off the front of <paramref name="buffer"/>.</summary>
    private static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            return false;
        }

        var end = buffer.GetPosition(1, newline.Value);
        line = buffer.Slice(0, end);
        buffer = buffer.Slice(end);
        return true;
    }

    private static void WriteTo(PipeWriter writer, ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            writer.Write(segment.Span);
        }
    }

    private static async ValueTask CompleteQuietlyAsync(PipeWriter writer)
    {
        try
        {
            await writer.CompleteAsync();
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            // The peer is gone; nothing left to deliver to.
        }
    }

    private static bool IsConnectionEnd(Exception e) =>
        e is IOException or SocketException or ObjectDisposedException or OperationCanceledException;

    private void Close(bool reset)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _closing.Cancel();
        RelaySockets.Close(reset, _client, _server);
    }

    /// <param name="Verb">Upper-case command keyword; null for the greeting.</param>
    private sealed record PendingCommand(string? Verb, ResponseShape Shape);
}
