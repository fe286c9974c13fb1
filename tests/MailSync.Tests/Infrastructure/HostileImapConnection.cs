using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// One client connection of a <see cref="HostileImapServer"/>: a client pump that reads whole commands (lines and
/// the literals they announce) and forwards, rewrites or answers them, and a server pump that reads whole responses
/// and relays, rewrites or adds to them. Both follow IMAP framing: a line ending in "{n}" (or "{n+}", "~{n}") is
/// followed by exactly n raw bytes, relayed in chunks without a look inside, and then more of the same command or
/// response. Everything either pump writes to the client goes through one buffer under one lock, held by the
/// server pump for a whole response, so a made-up line never lands inside a server response. Once a mode takes
/// the connection over (an endless line, a flood, a trickling literal), nothing more of the server's reaches the
/// client and nothing more of the client's reaches the server.
/// </summary>
internal sealed class HostileImapConnection : IRelayConnection
{
    // Long enough for any command MailKit builds (UID sets of big folders) and any response line Dovecot sends.
    private const int MaxLineLength = 16 * 1024 * 1024;

    // What the client buffer may hold before it is sent: generated listings are streamed, never held whole.
    private const int FlushAt = 64 * 1024;

    private const uint HugeCount = uint.MaxValue;

    private static readonly byte[] s_endlessChunk = Enumerable.Repeat((byte)'x', 64 * 1024).ToArray();
    private static readonly byte[] s_floodChunk = [.. Enumerable.Repeat("* OK flood\r\n"u8.ToArray(), 5461).SelectMany(l => l)];
    private static readonly byte[] s_trickleByte = [(byte)'x'];

    private readonly HostileImapServer _owner;
    private readonly HostileMode _mode;
    private readonly HostileOptions _options;
    private readonly Socket _client;
    private readonly Socket _server = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _closing = new();
    private readonly SemaphoreSlim _clientWriteLock = new(1, 1);
    private readonly Random? _refusals;
    private readonly string? _triggerVerb;

    // Shared by both pumps, under _gate: outstanding commands, the continuation and synchronizing-literal state, and
    // what the server has said about the selected mailbox.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Command> _outstanding = new(StringComparer.Ordinal);
    private readonly SortedDictionary<uint, uint> _knownUids = [];
    private string? _continuationTag;
    private TaskCompletionSource<bool>? _syncLiteral;
    private uint? _exists;
    private string? _flagList;
    private string? _targetStatus;
    private char _delimiter = '/';
    private bool _delimiterKnown;

    private volatile bool _loggedIn;
    private volatile bool _takenOver;
    private bool _triggered;
    private Task _stream = Task.CompletedTask;
    private ImapInbound? _fromClient;
    private ImapInbound? _fromServer;
    private ImapOutbound? _toClient;
    private ImapOutbound? _toServer;
    private int _closed;

    public HostileImapConnection(HostileImapServer owner, int id, Socket client, HostileMode mode, HostileOptions options)
    {
        _owner = owner;
        Id = id;
        _client = client;
        _mode = mode;
        _options = options;
        _client.NoDelay = true;
        _server.NoDelay = true;
        if (mode == HostileMode.RandomRefusals)
        {
            _refusals = new Random(unchecked((options.RefusalSeed * 1_000_003) + id));
        }

        _triggerVerb = options.TriggerVerb is null ? null : ImapFault.NormalizeVerb(options.TriggerVerb);
    }

    /// <summary>1-based number of the connection, in accept order.</summary>
    public int Id { get; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    private CancellationToken Token => _closing.Token;

    private ImapInbound FromClient => _fromClient!;

    private ImapInbound FromServer => _fromServer!;

    private ImapOutbound ToClient => _toClient!;

    private ImapOutbound ToServer => _toServer!;

    public void Start() => Completion = Task.Run(RunAsync);

    /// <summary>Resets both sides (RST, unsent data discarded) and stops both pumps.</summary>
    public void Abort() => Close(reset: true);

    private static bool IsConnectionEnd(Exception e) =>
        e is IOException or SocketException or ObjectDisposedException or OperationCanceledException;

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    private async Task RunAsync()
    {
        try
        {
            if (_mode == HostileMode.ByeGreeting)
            {
                _owner.CountFired();
                await SendAllAsync(_client, "* BYE [UNAVAILABLE] try later\r\n"u8.ToArray());
                Close(reset: false);
                return;
            }

            await _server.ConnectAsync(_owner.UpstreamHost, _owner.UpstreamPort, Token);
            _fromClient = new ImapInbound(_client, MaxLineLength);
            _fromServer = new ImapInbound(_server, MaxLineLength);
            _toClient = new ImapOutbound(_client, long.MaxValue);
            _toServer = new ImapOutbound(_server, long.MaxValue);
            await Task.WhenAll(PumpClientAsync(), PumpServerAsync());
            await _stream;
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            // The client or the server went away, or the server stopped: nothing to report.
        }
        catch (Exception e)
        {
            // Connection ends are handled in the pumps; this is a bug of the relay.
            _owner.RecordFault(e);
        }
        finally
        {
            Close(reset: false);
            try
            {
                await _stream;
            }
            catch (Exception e) when (IsConnectionEnd(e))
            {
            }

            // Every pump is done, so no socket operation still uses these buffers.
            _fromClient?.Dispose();
            _fromServer?.Dispose();
            _toClient?.Dispose();
            _toServer?.Dispose();
            _owner.Forget(this);
        }
    }

    // ---- client to server ------------------------------------------------------------------------------------

    private async Task PumpClientAsync()
    {
        try
        {
            while (true)
            {
                if (_takenOver)
                {
                    await DrainClientAsync();
                    return;
                }

                var line = await FromClient.ReadLineAsync(Token);
                if (line is null)
                {
                    // The client is done sending; let the server see it and finish its answers (after LOGOUT).
                    ClientFinished();
                    return;
                }

                if (_takenOver)
                {
                    continue;
                }

                bool continuation;
                lock (_gate)
                {
                    continuation = _continuationTag is not null;
                }

                if (continuation)
                {
                    // The answer to a "+" of AUTHENTICATE, or IDLE's DONE: not a command, no response of its own.
                    await SendToServerAsync(line);
                    continue;
                }

                await HandleCommandAsync(line);
            }
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

    /// <summary>Once the relay speaks for the server, whatever the client says goes nowhere; its close ends the connection.</summary>
    private async Task DrainClientAsync()
    {
        while (await FromClient.ReadAsync(Token))
        {
            FromClient.Consume(FromClient.Length);
        }

        Close(reset: false);
    }

    private void ClientFinished()
    {
        if (_takenOver)
        {
            Close(reset: false);
            return;
        }

        try
        {
            _server.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            Abort();
        }
    }

    private async Task HandleCommandAsync(byte[] line)
    {
        var (tag, verb) = ImapSyntax.ParseCommand(line);
        _owner.CountCommand(verb);
        if (RefusalFor(verb) is { } refusal)
        {
            _owner.CountFired();
            await AnswerAsync(tag, line, refusal);
            return;
        }

        if (_mode is HostileMode.EndlessLine or HostileMode.UntaggedFlood && _loggedIn && !_triggered && (_triggerVerb is null || _triggerVerb == verb))
        {
            _triggered = true;
            await TakeOverAsync();
            _owner.CountFired();
            _stream = _mode == HostileMode.EndlessLine ? StreamEndlessLineAsync(verb) : StreamFloodAsync();
            return;
        }

        await ForwardAsync(new Command(tag, verb, Latin1(line)), line);
    }

    /// <summary>The answer the relay gives in the server's place, or null to forward the command.</summary>
    private string? RefusalFor(string verb) => _mode switch
    {
        HostileMode.LoginUnavailable when verb is "LOGIN" or "AUTHENTICATE" => "NO [UNAVAILABLE] try later",
        HostileMode.RandomRefusals when _loggedIn && verb != "LOGOUT" && _refusals!.NextDouble() < _options.RefusalRate => "NO refused at random",
        _ => null,
    };

    /// <summary>
    /// Answers a command without forwarding any of it: its non-synchronizing literals are read and dropped; at a
    /// synchronizing one the client waits for "+", so the answer goes out there (a server may refuse a command at
    /// its literal) and the client sends no bytes.
    /// </summary>
    private async Task AnswerAsync(string tag, byte[] line, string response)
    {
        while (ImapSyntax.LiteralLength(line, out var synchronizing) is var literal and >= 0 && !synchronizing)
        {
            await FromClient.CopyAsync(literal, _ => ValueTask.CompletedTask, Token);
            line = await FromClient.ReadLineAsync(Token) ?? throw new EndOfStreamException("The client left in the middle of a command.");
        }

        await WriteToClientAsync(Ascii($"{tag} {response}\r\n"));
    }

    /// <summary>Forwards a command, its literals and the text between them; a mailbox argument may be rewritten first.</summary>
    private async Task ForwardAsync(Command command, byte[] line)
    {
        if (_options.BeforeBodyFetch is { } hook && command.Verb == "UID FETCH" && IsBodyFetch(line) && _owner.TakeBodyFetchHook())
        {
            await hook();
            _owner.CountFired();
        }

        if (command.Verb is "SELECT" or "EXAMINE")
        {
            lock (_gate)
            {
                // A new mailbox: what the relay knew of the old one no longer holds.
                _knownUids.Clear();
                _exists = null;
                _flagList = null;
            }
        }

        if (_mode == HostileMode.BadFolderName && !command.IsListing && MailboxArgumentStart(line, command.Verb) is var start and >= 0)
        {
            line = await MapMailboxAsync(command, line, start);
        }

        lock (_gate)
        {
            _outstanding[command.Tag] = command;
            if (command.Verb is "AUTHENTICATE" or "IDLE")
            {
                _continuationTag = command.Tag;
            }
        }

        while (true)
        {
            var literal = ImapSyntax.LiteralLength(line, out var synchronizing);
            TaskCompletionSource<bool>? go = null;
            if (literal >= 0 && synchronizing)
            {
                // Recorded before the line can reach the server, so the server pump finds it when the answer comes.
                go = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_gate)
                {
                    _syncLiteral = go;
                }
            }

            await SendToServerAsync(line);
            if (literal < 0)
            {
                return;
            }

            if (go is not null && !await go.Task.WaitAsync(Token))
            {
                return; // the server refused the literal with a tagged response: the client sends no bytes
            }

            await FromClient.CopyAsync(literal, async chunk =>
            {
                ToServer.Write(chunk.Span);
                await ToServer.FlushAsync(Token);
            }, Token);
            line = await FromClient.ReadLineAsync(Token) ?? throw new EndOfStreamException("The client left in the middle of a command.");
        }
    }

    /// <summary>
    /// Where the mailbox argument that <see cref="HostileMode.BadFolderName"/> maps starts, or -1: the first argument of
    /// SELECT, EXAMINE, STATUS, CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE and APPEND, the one after the set of COPY and
    /// MOVE, and the pattern of LIST and LSUB (after the selection options and the reference), which a client sends to
    /// look one folder up.
    /// </summary>
    private static int MailboxArgumentStart(byte[] line, string verb)
    {
        switch (verb)
        {
            case "SELECT" or "EXAMINE" or "STATUS" or "CREATE" or "DELETE" or "SUBSCRIBE" or "UNSUBSCRIBE" or "APPEND":
                return HostileSyntax.SkipWords(line, 2);
            case "COPY" or "MOVE":
                return HostileSyntax.SkipWords(line, 3);
            case "UID COPY" or "UID MOVE":
                return HostileSyntax.SkipWords(line, 4);
            case "LIST" or "LSUB":
                var start = HostileSyntax.SkipWords(line, 2);
                if (start >= 0 && start < line.Length && line[start] == (byte)'(')
                {
                    var close = line.AsSpan(start).IndexOf((byte)')');
                    start = close < 0 ? -1 : start + close + 2;
                }

                var reference = HostileSyntax.ReadAstring(line, start);
                return reference?.Value is null ? -1 : reference.End + 1;
            default:
                return -1;
        }
    }

    /// <summary>
    /// The command with its mailbox argument replaced by <see cref="HostileOptions.BadNameTarget"/> if it names the
    /// hostile folder. A mailbox sent as a literal is read here (the relay answers a synchronizing one's "+" itself)
    /// and, if it is some other name, passed on as a non-synchronizing literal (Dovecot has LITERAL+).
    /// </summary>
    private async Task<byte[]> MapMailboxAsync(Command command, byte[] line, int start)
    {
        var argument = HostileSyntax.ReadAstring(line, start);
        if (argument is null)
        {
            return line;
        }

        byte[] name;
        byte[] original;
        byte[] rest;
        if (argument.Value is { } value)
        {
            name = value;
            original = line[argument.Start..argument.End];
            rest = line[argument.End..];
        }
        else
        {
            if (argument.Synchronizing)
            {
                await WriteToClientAsync("+ go ahead\r\n"u8.ToArray());
            }

            name = await FromClient.ReadBytesAsync(checked((int)argument.LiteralLength), Token);
            original = [.. Ascii($"{{{name.Length}+}}\r\n"), .. name];
            rest = await FromClient.ReadLineAsync(Token) ?? throw new EndOfStreamException("The client left in the middle of a command.");
        }

        if (name.Length == 0 && command.Verb is "LIST" or "LSUB")
        {
            // LIST "" "" asks for the hierarchy delimiter (RFC 3501 6.3.8), not for a folder with an empty name.
            return [.. line.AsSpan(0, argument.Start), .. original, .. rest];
        }

        var delimiter = Delimiter;
        var aliases = HostileNames.Aliases(HostileNames.Bytes(_options.BadName, delimiter), delimiter);
        if (!aliases.Any(a => a.AsSpan().SequenceEqual(name)))
        {
            return [.. line.AsSpan(0, argument.Start), .. original, .. rest];
        }

        _owner.CountMapped();
        command.Spelling = name;
        return [.. line.AsSpan(0, argument.Start), .. HostileNames.Astring(TargetName), .. rest];
    }

    private char Delimiter
    {
        get
        {
            lock (_gate)
            {
                return _delimiter;
            }
        }
    }

    /// <summary>The real folder's name as the server spells it (modified UTF-7).</summary>
    private byte[] TargetName => Ascii(ModifiedUtf7.Encode(_options.BadNameTarget));

    private async ValueTask SendToServerAsync(byte[] bytes)
    {
        ToServer.Write(bytes);
        await ToServer.FlushAsync(Token);
    }

    // ---- server to client ------------------------------------------------------------------------------------

    private async Task PumpServerAsync()
    {
        var holding = false;
        try
        {
            var greeting = await FromServer.ReadLineAsync(Token) ?? throw new EndOfStreamException("The server closed before its greeting.");
            if (_mode == HostileMode.ControlBytes)
            {
                _owner.CountFired();
                greeting = HostileSyntax.WithText(greeting, HostileNames.ControlText);
            }

            await WriteToClientAsync(ImapSyntax.WithoutCompress(greeting) ?? greeting);
            while (true)
            {
                if (!FromServer.TryFindLine(out _))
                {
                    // About to wait for the server: what is queued for the client goes out first.
                    await WriteToClientAsync([]);
                }

                var line = await FromServer.ReadLineAsync(Token);
                if (line is null)
                {
                    // The server closed (after BYE, or on its own); the client is told by a normal close.
                    Close(reset: false);
                    return;
                }

                await _clientWriteLock.WaitAsync(Token);
                holding = true;
                if (_takenOver)
                {
                    return; // nothing more of the server's reaches the client
                }

                var trickle = await RelayResponseAsync(line);
                if (trickle || !FromServer.TryFindLine(out _))
                {
                    await ToClient.FlushAsync(Token);
                }

                _clientWriteLock.Release();
                holding = false;
                if (trickle)
                {
                    await TrickleAsync();
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

    /// <summary>
    /// Relays one whole response into the client buffer (the write lock is held), rewriting and adding to it as the
    /// mode says; true when <see cref="HostileMode.SlowHugeLiteral"/> took the connection over at its literal.
    /// </summary>
    private async Task<bool> RelayResponseAsync(byte[] line)
    {
        var first = ImapSyntax.FirstToken(line);
        if (first.SequenceEqual("*"u8))
        {
            line = Untagged(line);
        }
        else if (first.SequenceEqual("+"u8))
        {
            lock (_gate)
            {
                _syncLiteral?.TrySetResult(true);
                _syncLiteral = null;
            }
        }
        else
        {
            line = await TaggedAsync(Latin1(first), line);
        }

        while (ImapSyntax.LiteralLength(line, out _) is var literal and >= 0)
        {
            if (_mode == HostileMode.SlowHugeLiteral && WholeMessageFetchOutstanding()
                && HostileSyntax.WithWholeMessageLiteral(line, _options.HugeLiteralLength) is { } huge)
            {
                _owner.CountFired();
                ToClient.Write(huge);
                _takenOver = true;
                return true;
            }

            ToClient.Write(line);
            await FromServer.CopyAsync(literal, async chunk =>
            {
                ToClient.Write(chunk.Span);
                if (ToClient.Pending >= FlushAt)
                {
                    await ToClient.FlushAsync(Token);
                }
            }, Token, FlushClientAsync);
            line = await FromServer.ReadLineAsync(Token, FlushClientAsync)
                ?? throw new EndOfStreamException("The server closed in the middle of a response.");
        }

        ToClient.Write(line);
        return false;
    }

    private ValueTask FlushClientAsync() => ToClient.FlushAsync(Token);

    /// <summary>An untagged response's first line: tracked, and rewritten as the mode says.</summary>
    private byte[] Untagged(byte[] line)
    {
        var text = Latin1(line);
        var rewritten = text;
        lock (_gate)
        {
            if (HostileSyntax.NumberedResponse(text) is { } numbered)
            {
                switch (numbered.Word)
                {
                    case "EXISTS":
                        _exists = numbered.Number;
                        if (_mode == HostileMode.HugeCounts)
                        {
                            rewritten = $"* {HugeCount} EXISTS\r\n";
                        }

                        break;
                    case "EXPUNGE":
                        // Renumbers every later message: forget them all rather than track the shift.
                        _exists = _exists is > 0 ? _exists - 1 : null;
                        _knownUids.Clear();
                        break;
                }
            }
            else if (HostileSyntax.FetchUid(text) is { } fetched)
            {
                _knownUids[fetched.Sequence] = fetched.Uid;
            }
            else if (text.StartsWith("* VANISHED", StringComparison.OrdinalIgnoreCase))
            {
                _knownUids.Clear();
                _exists = null;
            }
            else if (HostileSyntax.FlagList(text) is { } flags)
            {
                _flagList = flags;
            }
            else if (HostileSyntax.ListDelimiter(text) is { } delimiter)
            {
                if (!_delimiterKnown)
                {
                    _delimiter = delimiter;
                    _delimiterKnown = true;
                }

                rewritten = MappedListLine(line, text);
            }
            else if (text.StartsWith("* STATUS ", StringComparison.OrdinalIgnoreCase))
            {
                rewritten = Status(line, text);
            }

            if (_mode == HostileMode.HugeCounts && rewritten.Contains("[UIDNEXT ", StringComparison.OrdinalIgnoreCase))
            {
                rewritten = HostileSyntax.WithUidNextCode(rewritten, HugeCount);
            }
        }

        if (!ReferenceEquals(rewritten, text))
        {
            _owner.CountFired();
            line = Encoding.Latin1.GetBytes(rewritten);
        }

        return ImapSyntax.WithoutCompress(line) ?? line;
    }

    /// <summary>
    /// A STATUS line (under _gate): the real folder's item list is kept for the hostile folder's LIST-STATUS line;
    /// while a command that named the hostile folder is outstanding, the real folder's STATUS names it as that command
    /// did; HugeCounts inflates the counts.
    /// </summary>
    private string Status(byte[] line, string text)
    {
        const int nameStart = 9; // "* STATUS "
        var name = HostileSyntax.ReadAstring(line, nameStart);
        if (_mode == HostileMode.HugeCounts)
        {
            return HostileSyntax.WithStatusCounts(text, HugeCount);
        }

        if (_mode != HostileMode.BadFolderName || name?.Value is not { } value || !IsTarget(value))
        {
            return text;
        }

        var items = text[name.End..];
        _targetStatus = items.Trim();
        return MappedSpelling() is { } spelling ? "* STATUS " + Latin1(HostileNames.Astring(spelling)) + items : text;
    }

    /// <summary>
    /// A LIST or LSUB line (under _gate): while a command that named the hostile folder is outstanding, the real
    /// folder's line names it as that command did, as a server answers for the folder it was asked about.
    /// </summary>
    private string MappedListLine(byte[] line, string text)
    {
        if (_mode != HostileMode.BadFolderName || MappedSpelling() is not { } spelling)
        {
            return text;
        }

        var name = HostileSyntax.ReadAstring(line, HostileSyntax.ListNameStart(line));
        if (name?.Value is not { } value || !IsTarget(value))
        {
            return text;
        }

        return text[..name.Start] + Latin1(HostileNames.Astring(spelling)) + text[name.End..];
    }

    /// <summary>How the outstanding command that named the hostile folder spelled it (under _gate), or null.</summary>
    private byte[]? MappedSpelling() => _outstanding.Values.FirstOrDefault(c => c.Spelling is not null)?.Spelling;

    private bool IsTarget(byte[] name)
    {
        var target = TargetName;
        return name.AsSpan().SequenceEqual(target)
            || (Latin1(target).Equals("INBOX", StringComparison.OrdinalIgnoreCase) && Latin1(name).Equals("INBOX", StringComparison.OrdinalIgnoreCase));
    }

    private bool WholeMessageFetchOutstanding()
    {
        lock (_gate)
        {
            return _outstanding.Values.Any(c => c.FetchesWholeMessage);
        }
    }

    /// <summary>A tagged response: retires its command, adds what the mode adds before it, rewrites it as the mode says.</summary>
    private async Task<byte[]> TaggedAsync(string tag, byte[] line)
    {
        Command? command;
        lock (_gate)
        {
            if (_outstanding.Remove(tag, out command))
            {
                if (_continuationTag == tag)
                {
                    _continuationTag = null;
                }

                // A tagged answer while the client waits for "+" refuses the literal: the client sends no bytes.
                _syncLiteral?.TrySetResult(false);
                _syncLiteral = null;
            }
        }

        var status = line.Length > tag.Length + 1 ? Latin1(ImapSyntax.FirstToken(line.AsSpan(tag.Length + 1))) : "";
        var ok = status.Equals("OK", StringComparison.OrdinalIgnoreCase);
        if (command is not null && ok)
        {
            if (command.Verb is "LOGIN" or "AUTHENTICATE")
            {
                _loggedIn = true;
            }

            await AddBeforeTaggedAsync(command);
        }

        if (_mode == HostileMode.ControlBytes && (status.Equals("NO", StringComparison.OrdinalIgnoreCase) || status.Equals("BAD", StringComparison.OrdinalIgnoreCase)))
        {
            _owner.CountFired();
            return HostileSyntax.WithText(line, HostileNames.ControlText);
        }

        return ImapSyntax.WithoutCompress(line) ?? line;
    }

    private async Task AddBeforeTaggedAsync(Command command)
    {
        switch (_mode)
        {
            case HostileMode.ManyFolders when command.IsListing:
                _owner.CountFired();
                await WriteManyFoldersAsync(command);
                break;
            case HostileMode.BadFolderName when command.IsListing:
                _owner.CountFired();
                WriteExtraFolder(command, HostileNames.Bytes(_options.BadName, Delimiter), withTargetStatus: true);
                break;
            case HostileMode.ControlBytes when command.IsListing:
                _owner.CountFired();
                WriteExtraFolder(command, HostileNames.ControlFolder, withTargetStatus: false);
                break;
            case HostileMode.UnsolicitedFetch when command.Verb is "FETCH" or "UID FETCH":
                if (Unsolicited(command) is { Length: > 0 } lines)
                {
                    _owner.CountFired();
                    ToClient.Write(lines);
                }

                break;
        }
    }

    private async Task WriteManyFoldersAsync(Command command)
    {
        var delimiter = Latin1(HostileNames.Astring([(byte)Delimiter]));
        var status = command.StatusItems is { } items ? EmptyStatus(items) : null;
        for (var i = 1; i <= _options.ExtraFolderCount; i++)
        {
            var name = "\"f" + i.ToString("D6", CultureInfo.InvariantCulture) + "\"";
            ToClient.Write(Ascii($"{command.ListPrefix} {delimiter} {name}\r\n"));
            if (status is not null)
            {
                ToClient.Write(Ascii($"* STATUS {name} {status}\r\n"));
            }

            if (ToClient.Pending >= FlushAt)
            {
                await ToClient.FlushAsync(Token);
            }
        }
    }

    private void WriteExtraFolder(Command command, ReadOnlySpan<byte> name, bool withTargetStatus)
    {
        var delimiter = HostileNames.Astring([(byte)Delimiter]);
        var astring = HostileNames.Astring(name);
        ToClient.Write([.. Ascii(command.ListPrefix + " "), .. delimiter, (byte)' ', .. astring, .. "\r\n"u8]);
        string? status;
        lock (_gate)
        {
            status = _targetStatus;
        }

        // Under LIST-STATUS the folder says what its real counterpart holds, so a client that trusts the listing reads it.
        if (withTargetStatus && command.StatusItems is not null && status is not null)
        {
            ToClient.Write([.. "* STATUS "u8, .. astring, (byte)' ', .. Ascii(status), .. "\r\n"u8]);
        }
    }

    /// <summary>The STATUS item list of an empty folder for the items asked: 0, but 1 for UIDNEXT, UIDVALIDITY and HIGHESTMODSEQ.</summary>
    private static string EmptyStatus(IEnumerable<string> items) =>
        "(" + string.Join(' ', items.Select(i => i.ToUpperInvariant()).Select(i => $"{i} {(i is "UIDNEXT" or "UIDVALIDITY" or "HIGHESTMODSEQ" ? 1 : 0)}")) + ")";

    private static bool IsBodyFetch(byte[] line)
    {
        var text = Encoding.ASCII.GetString(line);
        return text.Contains("BODY.PEEK[]", StringComparison.OrdinalIgnoreCase) || text.Contains("BINARY.PEEK[]", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The unsolicited lines of <see cref="HostileMode.UnsolicitedFetch"/> for this FETCH; see <see cref="UnsolicitedKinds"/>.</summary>
    private byte[] Unsolicited(Command command)
    {
        var output = new StringBuilder();
        lock (_gate)
        {
            if ((_options.Unsolicited & UnsolicitedKinds.Fetch) != 0 && _knownUids.Count > 0)
            {
                var asked = command.FetchSet;
                var byUid = command.Verb == "UID FETCH";
                var candidates = _knownUids.Where(m => _exists is not { } exists || m.Key <= exists).ToList();
                if (candidates.Count > 0)
                {
                    var notAsked = candidates.LastOrDefault(m => asked is not null && !HostileSyntax.SetContains(asked, byUid ? m.Value : m.Key));
                    var (sequence, uid) = notAsked.Key != 0 ? notAsked : candidates[^1];
                    output.Append(CultureInfo.InvariantCulture, $"* {sequence} FETCH (UID {uid} FLAGS (\\Seen))\r\n");
                }
            }

            if ((_options.Unsolicited & UnsolicitedKinds.Flags) != 0)
            {
                var flags = (_flagList ?? @"\Answered \Flagged \Deleted \Seen \Draft").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
                if (!flags.Contains("$Hostile", StringComparer.OrdinalIgnoreCase))
                {
                    flags.Add("$Hostile");
                }

                output.Append(CultureInfo.InvariantCulture, $"* FLAGS ({string.Join(' ', flags)})\r\n");
            }

            if ((_options.Unsolicited & UnsolicitedKinds.Exists) != 0 && _exists is { } count)
            {
                output.Append(CultureInfo.InvariantCulture, $"* {count} EXISTS\r\n");
            }
        }

        return Ascii(output.ToString());
    }

    // ---- take-overs ------------------------------------------------------------------------------------------

    /// <summary>From now on the relay alone writes to the client: what is queued goes out first, then nothing of the server's.</summary>
    private async Task TakeOverAsync()
    {
        await _clientWriteLock.WaitAsync(Token);
        try
        {
            _takenOver = true;
            await ToClient.FlushAsync(Token);
        }
        finally
        {
            _clientWriteLock.Release();
        }
    }

    private async Task StreamEndlessLineAsync(string verb)
    {
        try
        {
            var start = verb is "LIST" or "LSUB" ? "* LIST (\\HasNoChildren) \"/\" \""u8.ToArray() : "* OK "u8.ToArray();
            await SendAllAsync(_client, start);
            while (true)
            {
                await SendAllAsync(_client, s_endlessChunk);
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Abort();
        }
    }

    private async Task StreamFloodAsync()
    {
        try
        {
            while (true)
            {
                await SendAllAsync(_client, s_floodChunk);
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Abort();
        }
    }

    /// <summary>The announced literal, one byte per <see cref="HostileOptions.TrickleInterval"/>, until the client leaves.</summary>
    private async Task TrickleAsync()
    {
        while (true)
        {
            await Task.Delay(_options.TrickleInterval, Token);
            await SendAllAsync(_client, s_trickleByte);
        }
    }

    // ---- writing ---------------------------------------------------------------------------------------------

    /// <summary>Queues <paramref name="bytes"/> for the client and flushes, between server responses; dropped once taken over.</summary>
    private async Task WriteToClientAsync(byte[] bytes)
    {
        await _clientWriteLock.WaitAsync(Token);
        try
        {
            if (_takenOver)
            {
                return;
            }

            ToClient.Write(bytes);
            await ToClient.FlushAsync(Token);
        }
        finally
        {
            _clientWriteLock.Release();
        }
    }

    private async Task SendAllAsync(Socket socket, byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, Token);
        }
    }

    /// <summary>Closes both sockets, once.</summary>
    private void Close(bool reset)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _closing.Cancel();
        RelaySockets.Close(reset, _client, _server);
    }

    /// <summary>A client command forwarded to the server and not answered yet, with what the modes need to know of it.</summary>
    private sealed class Command
    {
        public Command(string tag, string verb, string firstLine)
        {
            Tag = tag;
            Verb = verb;
            if (verb is "LIST" or "LSUB")
            {
                // A listing has a wildcard in its pattern; LIST "" "" (the delimiter) and LIST "" INBOX do not. A
                // SPECIAL-USE selection lists special-use folders only, which the extra folders are not.
                IsListing = firstLine.AsSpan(Math.Min(firstLine.Length, tag.Length + verb.Length + 2)).IndexOfAny('*', '%') >= 0
                    && !HostileSyntax.ListsSpecialUseOnly(firstLine);
                StatusItems = verb == "LIST" ? HostileSyntax.ListStatusItems(firstLine) : null;
                var subscribed = verb == "LSUB" || HostileSyntax.ListsSubscribedOnly(firstLine);
                ListPrefix = verb == "LSUB" ? "* LSUB ()" : subscribed ? "* LIST (\\HasNoChildren \\Subscribed)" : "* LIST (\\HasNoChildren)";
            }
            else if (verb is "FETCH" or "UID FETCH")
            {
                var words = verb == "FETCH" ? 2 : 3;
                var start = HostileSyntax.SkipWords(Encoding.Latin1.GetBytes(firstLine), words);
                FetchSet = start < 0 ? null : firstLine[start..].Split(' ', 2)[0];
                FetchesWholeMessage = HostileSyntax.FetchesWholeMessage(firstLine);
            }
        }

        public string Tag { get; }

        /// <summary>Upper-case verb with single spaces ("UID FETCH").</summary>
        public string Verb { get; }

        /// <summary>LIST or LSUB with a wildcard, not a SPECIAL-USE one: the extra folders go before its tagged OK.</summary>
        public bool IsListing { get; }

        /// <summary>The first words of a listing line for an extra folder, up to the delimiter.</summary>
        public string ListPrefix { get; } = "";

        /// <summary>LIST-STATUS items asked for ("MESSAGES", "UIDNEXT", ...), or null.</summary>
        public string[]? StatusItems { get; }

        /// <summary>The sequence set of a FETCH or UID FETCH.</summary>
        public string? FetchSet { get; }

        public bool FetchesWholeMessage { get; }

        /// <summary>Its mailbox argument named the hostile folder (spelled so) and was replaced by the real one; else null.</summary>
        public byte[]? Spelling { get; set; }
    }
}
