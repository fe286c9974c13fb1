namespace MailSync.Tests.Infrastructure;

/// <summary>
/// One armed fault of an <see cref="ImapFaultProxy"/>. A connection takes it off the armed list at the
/// matching event (so it fires once, on one connection) and marks it fired when it has done its damage.
/// </summary>
internal sealed class ImapFault
{
    // Continuations run elsewhere: a test awaiting Fired must not run inside a relay pump.
    private readonly TaskCompletionSource _fired = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ImapFault(ImapFaultKind kind, string? verb = null, long afterBytes = 0, TimeSpan duration = default, string? response = null)
    {
        Kind = kind;
        Verb = verb is null ? null : NormalizeVerb(verb);
        AfterBytes = afterBytes;
        Duration = duration;
        Response = response;
    }

    public ImapFaultKind Kind { get; }

    /// <summary>Upper-case verb with single spaces ("UID FETCH"); null for faults not tied to a verb.</summary>
    public string? Verb { get; }

    public long AfterBytes { get; }

    public TimeSpan Duration { get; }

    /// <summary>The answer line without tag and CRLF (<see cref="ImapFaultKind.Answer"/> only).</summary>
    public string? Response { get; }

    public Task Fired => _fired.Task;

    public void MarkFired() => _fired.TrySetResult();

    /// <summary>The proxy went away before the fault could fire.</summary>
    public void Cancel() => _fired.TrySetCanceled();

    /// <summary>"uid  fetch" and "UID FETCH" name the same command.</summary>
    public static string NormalizeVerb(string verb) =>
        string.Join(' ', verb.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToUpperInvariant();
}
