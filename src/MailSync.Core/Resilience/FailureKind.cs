namespace MailSync.Core.Resilience;

/// <summary>What a failure means for the run (DESIGN.md §4), which decides the reaction.</summary>
public enum FailureKind
{
    /// <summary>Try again later: the server is busy, the mailbox is in use, the connection dropped.</summary>
    Transient,

    /// <summary>This message cannot be copied; record it and go on.</summary>
    Message,

    /// <summary>This folder cannot be used; record it and go on with the others.</summary>
    Folder,

    /// <summary>This account cannot be used (wrong password, disabled); stop its jobs.</summary>
    Account,
}
