Console.WriteLine("mailsync");
