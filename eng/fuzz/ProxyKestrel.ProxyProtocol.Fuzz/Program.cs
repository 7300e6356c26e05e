using ProxyKestrel.ProxyProtocol.Fuzzing;
using SharpFuzz;

// Usage:
//   (no arguments)        run under afl-fuzz: each input arrives on stdin through SharpFuzz's out-of-process runner.
//   --replay FILE|DIR...  run the target once per file (no AFL needed); prints each failure, exits 1 if any.
if (args.Length > 0 && args[0] == "--replay")
{
    int failures = 0;
    int count = 0;
    foreach (string path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]))
    {
        count++;
        try
        {
            CodecFuzzTarget.Run(File.ReadAllBytes(path));
        }
        catch (Exception ex)
        {
            failures++;
            Console.WriteLine($"FAIL {path}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    Console.WriteLine($"replayed {count} inputs, {failures} failed");
    return failures == 0 && count > 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    CodecFuzzTarget.Run(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
});
return 0;
