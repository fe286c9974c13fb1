using MailKit.Net.Imap;

namespace MailSync.Tests.Infrastructure;

/// <summary>A private IMAP server the tests start (Dovecot, Cyrus, Courier), as far as tests that run against any of them need it.</summary>
public interface IImapTestServer
{
    /// <summary>The product's name, for messages and test names.</summary>
    string Name { get; }

    string Host { get; }

    /// <summary>Plain IMAP on <see cref="Host"/>; test logins need no TLS there.</summary>
    int ImapPort { get; }

    /// <summary>A fresh user with an empty mailbox (INBOX exists).</summary>
    Task<TestUser> CreateTestUserAsync(string prefix);

    /// <summary>A MailKit client logged in as <paramref name="user"/>.</summary>
    Task<ImapClient> ConnectAsync(TestUser user, CancellationToken ct = default);
}
