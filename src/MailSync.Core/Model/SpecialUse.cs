namespace MailSync.Core.Model;

/// <summary>The role a folder plays for mail clients (RFC 6154 special-use, plus INBOX).</summary>
public enum SpecialUse
{
    None = 0,
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    All,
    Flagged,
    Important,
}
