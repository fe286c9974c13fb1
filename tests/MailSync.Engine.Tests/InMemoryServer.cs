using MailKit;
using MailSync.Core.Model;

namespace MailSync.Engine.Tests;

/// <summary>
/// An IMAP server's state in memory, for engine tests that need no network: folders with
/// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ (CONDSTORE), subscriptions, roles and messages (exact
/// bytes, flags, keywords, INTERNALDATE, modseq). Every connection (<see cref="InMemoryStore"/>)
/// works on the same state, and every change a client makes goes through <see cref="Faults"/>,
/// which can stop the world before or after the k-th one, as a killed process would.
/// </summary>
public sealed class InMemoryServer(string name, Faults faults)
{
    private uint _nextValidity = 1000;

    public string Name { get; } = name;

    /// <summary>Answers APPEND with APPENDUID (UIDPLUS); without it the client learns the new UIDs by looking.</summary>
    public bool UidPlus { get; set; } = true;

    /// <summary>Offers MOVE (RFC 6851); without it a move is UID COPY, a \Deleted STORE and UID EXPUNGE, as MailKit does it.</summary>
    public bool Move { get; set; } = true;

    /// <summary>Refuses (NO) every APPEND whose message contains this text; null refuses nothing.</summary>
    public string? RefuseContaining { get; set; }

    /// <summary>Refuses (NO) every APPEND whose message has an LF without a CR before it, as Cyrus does.</summary>
    public bool RefuseBareLineFeeds { get; set; }

    /// <summary>
    /// The folder is recreated with a new UIDVALIDITY and its messages numbered again from 1, as a
    /// server does after a rebuild of its index: every UID a client recorded is now meaningless.
    /// </summary>
    public void Renumber(string path)
    {
        var folder = Folders[path];
        var messages = folder.Messages.ToList();
        folder.Messages.Clear();
        folder.UidValidity = ++_nextValidity;
        folder.UidNext = 1;
        foreach (var m in messages)
            folder.Append(m.Bytes, m.Flags, m.Keywords, m.Date);
    }

    public Faults Faults { get; } = faults;

    /// <summary>RENAME as IMAP does it: the folder and every folder under it take the new name and keep their UIDVALIDITY and messages.</summary>
    public bool Rename(string from, string to)
    {
        foreach (var path in Folders.Keys.Where(p => p == from || p.StartsWith(from + "/", StringComparison.Ordinal)).ToList())
        {
            var folder = Folders[path];
            Folders.Remove(path);
            var renamed = new Folder(to + path[from.Length..], folder.UidValidity) { UidNext = folder.UidNext, HighestModSeq = folder.HighestModSeq, Role = folder.Role, Subscribed = folder.Subscribed };
            renamed.Messages.AddRange(folder.Messages);
            Folders[renamed.Path] = renamed;
        }

        return true;
    }

    public SortedDictionary<string, Folder> Folders { get; } = new(StringComparer.Ordinal) { ["INBOX"] = new Folder("INBOX", 1) };

    /// <summary>A folder as it was when a test made it, or created by a client.</summary>
    public Folder Add(string path, SpecialUse role = SpecialUse.None, bool subscribed = true)
    {
        if (!Folders.TryGetValue(path, out var folder))
            Folders[path] = folder = new Folder(path, ++_nextValidity) { Role = role, Subscribed = subscribed };
        return folder;
    }

    /// <summary>Every message of every folder, for comparing end states: folder, bytes, flags, keywords, date.</summary>
    public List<string> Snapshot() =>
        [.. Folders.Values.SelectMany(f => f.Messages.Select(m => Line(f.Path, m.Bytes, m.Flags, m.Keywords, m.Date)))
            .Concat(Folders.Values.Where(f => f.Subscribed).Select(f => $"{f.Path}|subscribed"))
            .Order(StringComparer.Ordinal)];

    /// <summary>One message's line in <see cref="Snapshot"/>.</summary>
    public static string Line(string folder, byte[] bytes, MessageFlags flags, IEnumerable<string> keywords, DateTimeOffset date)
        => $"{folder}|{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes))[..16]}|{flags}|{string.Join(',', keywords.Order(StringComparer.Ordinal))}|{date.ToUnixTimeSeconds()}";

    /// <summary>A message's line in <see cref="Snapshot"/>, as if it were in <paramref name="folder"/> with these flags (null: its own).</summary>
    public static string Line(string folder, Message m, MessageFlags? flags = null, IEnumerable<string>? keywords = null)
        => Line(folder, m.Bytes, flags ?? m.Flags, keywords ?? m.Keywords, m.Date);

    public sealed class Folder(string path, uint uidValidity)
    {
        public string Path { get; } = path;
        public uint UidValidity { get; set; } = uidValidity;
        public uint UidNext { get; set; } = 1;
        public ulong HighestModSeq { get; set; } = 1;
        public SpecialUse Role { get; set; }
        public bool Subscribed { get; set; } = true;
        public List<Message> Messages { get; } = [];

        /// <summary>Adds a message as a server would on APPEND; returns its UID.</summary>
        public uint Append(byte[] bytes, MessageFlags flags, IEnumerable<string> keywords, DateTimeOffset date)
        {
            var message = new Message(UidNext++, bytes, flags & ~MessageFlags.Recent, new HashSet<string>(keywords, StringComparer.OrdinalIgnoreCase), date) { ModSeq = ++HighestModSeq };
            Messages.Add(message);
            return message.Uid;
        }

        /// <summary>Removes these messages (EXPUNGE); a UID the folder does not have is ignored, as UID EXPUNGE does.</summary>
        public bool Expunge(IEnumerable<uint> uids)
        {
            var gone = uids.ToHashSet();
            if (Messages.RemoveAll(m => gone.Contains(m.Uid)) > 0)
                HighestModSeq++;
            return true;
        }

        /// <summary>Moves a message into <paramref name="to"/> as a client's MOVE would (new UID there, flags kept).</summary>
        public uint MoveTo(uint uid, Folder to)
        {
            var message = Messages.Single(m => m.Uid == uid);
            var assigned = to.Append(message.Bytes, message.Flags, message.Keywords, message.Date);
            Expunge([uid]);
            return assigned;
        }

        public void SetFlags(uint uid, MessageFlags flags, IEnumerable<string> keywords)
        {
            var message = Messages.Single(m => m.Uid == uid);
            message.Flags = flags;
            message.Keywords = new HashSet<string>(keywords, StringComparer.OrdinalIgnoreCase);
            message.ModSeq = ++HighestModSeq;
        }
    }

    public sealed class Message(uint uid, byte[] bytes, MessageFlags flags, HashSet<string> keywords, DateTimeOffset date)
    {
        public uint Uid { get; } = uid;
        public byte[] Bytes { get; } = bytes;
        public MessageFlags Flags { get; set; } = flags;
        public HashSet<string> Keywords { get; set; } = keywords;
        public DateTimeOffset Date { get; } = date;
        public ulong ModSeq { get; set; }
    }
}

/// <summary>Thrown once the world stops: the process under test is, in effect, killed.</summary>
public sealed class SimulatedCrash(string message) : Exception(message);

/// <summary>
/// Counts the changes clients make to the servers (CREATE, SUBSCRIBE, APPEND, STORE: each command
/// one side effect, a MULTIAPPEND included, a refused one too) and stops the world at a chosen one:
/// just before it (the intent is recorded, the command never sent) or just after it (the server did
/// it, or refused it, and the client never heard). From then on every call on every connection throws <see cref="SimulatedCrash"/>.
/// </summary>
public sealed class Faults
{
    private int _count;
    private bool _crashed;

    /// <summary>Side effects made so far.</summary>
    public int Count => _count;

    /// <summary>Stop just before side effect number k (1-based); 0 never.</summary>
    public int CrashBefore { get; set; }

    /// <summary>Stop just after side effect number k (1-based); 0 never.</summary>
    public int CrashAfter { get; set; }

    public bool Crashed => _crashed;

    /// <summary>Brings the world back for the next run: counting starts again, no crash planned.</summary>
    public void Restart()
    {
        _crashed = false;
        _count = 0;
        CrashBefore = 0;
        CrashAfter = 0;
    }

    /// <summary>Any call: fails once the world has stopped.</summary>
    public void Check()
    {
        if (_crashed)
            throw new SimulatedCrash("the process was stopped");
    }

    /// <summary>Makes one side effect, unless the world stops before or after it.</summary>
    public T SideEffect<T>(string what, Func<T> act)
    {
        Check();
        var k = ++_count;
        if (k == CrashBefore)
        {
            _crashed = true;
            throw new SimulatedCrash($"stopped before side effect {k} ({what})");
        }

        T outcome;
        try
        {
            outcome = act();
        }
        catch (Exception refused) when (k == CrashAfter && refused is not SimulatedCrash)
        {
            // The server answered NO, and the client never heard it.
            _crashed = true;
            throw new SimulatedCrash($"stopped after side effect {k} ({what}), which the server refused");
        }

        if (k == CrashAfter)
        {
            _crashed = true;
            throw new SimulatedCrash($"stopped after side effect {k} ({what})");
        }

        return outcome;
    }
}
