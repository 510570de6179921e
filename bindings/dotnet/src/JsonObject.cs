using System;
using System.Collections;
using System.Collections.Generic;

namespace Portcullis
{
    /// <summary>
    /// A JSON object: a string-keyed dictionary that enumerates in insertion order (document
    /// order for parsed objects). Keys compare ordinally.
    /// </summary>
    internal sealed class JsonObject : IDictionary<string, object>, IReadOnlyDictionary<string, object>
    {
        // Small objects (most of them) are searched linearly; a hash index is built past this size.
        private const int IndexThreshold = 8;

        private readonly List<KeyValuePair<string, object>> entries = new List<KeyValuePair<string, object>>();
        private Dictionary<string, int> index;

        public object this[string key]
        {
            get
            {
                object value;
                if (!TryGetValue(key, out value)) throw new KeyNotFoundException("no key \"" + key + "\"");
                return value;
            }
            set
            {
                if (key == null) throw new ArgumentNullException(nameof(key));
                int at = Find(key);
                if (at >= 0) entries[at] = new KeyValuePair<string, object>(key, value);
                else Add(key, value);
            }
        }

        public int Count => entries.Count;

        public bool IsReadOnly => false;

        public ICollection<string> Keys
        {
            get
            {
                var keys = new List<string>(entries.Count);
                foreach (var entry in entries) keys.Add(entry.Key);
                return keys;
            }
        }

        public ICollection<object> Values
        {
            get
            {
                var values = new List<object>(entries.Count);
                foreach (var entry in entries) values.Add(entry.Value);
                return values;
            }
        }

        IEnumerable<string> IReadOnlyDictionary<string, object>.Keys => Keys;

        IEnumerable<object> IReadOnlyDictionary<string, object>.Values => Values;

        public void Add(string key, object value)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            if (Find(key) >= 0) throw new ArgumentException("duplicate key \"" + key + "\"", nameof(key));
            entries.Add(new KeyValuePair<string, object>(key, value));
            if (index != null) index.Add(key, entries.Count - 1);
            else if (entries.Count > IndexThreshold) BuildIndex();
        }

        public void Add(KeyValuePair<string, object> item)
        {
            Add(item.Key, item.Value);
        }

        public void Clear()
        {
            entries.Clear();
            index = null;
        }

        public bool Contains(KeyValuePair<string, object> item)
        {
            object value;
            return TryGetValue(item.Key, out value) && Equals(value, item.Value);
        }

        public bool ContainsKey(string key)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            return Find(key) >= 0;
        }

        public void CopyTo(KeyValuePair<string, object>[] array, int arrayIndex)
        {
            entries.CopyTo(array, arrayIndex);
        }

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            return entries.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }

        public bool Remove(string key)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            int at = Find(key);
            if (at < 0) return false;
            entries.RemoveAt(at);
            if (index != null)
            {
                index.Remove(key);
                for (int i = at; i < entries.Count; i++) index[entries[i].Key] = i;
            }
            return true;
        }

        public bool Remove(KeyValuePair<string, object> item)
        {
            return Contains(item) && Remove(item.Key);
        }

        public bool TryGetValue(string key, out object value)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            int at = Find(key);
            if (at >= 0)
            {
                value = entries[at].Value;
                return true;
            }
            value = null;
            return false;
        }

        private int Find(string key)
        {
            if (index != null)
            {
                int at;
                return index.TryGetValue(key, out at) ? at : -1;
            }
            for (int i = 0; i < entries.Count; i++)
            {
                if (string.Equals(entries[i].Key, key, StringComparison.Ordinal)) return i;
            }
            return -1;
        }

        private void BuildIndex()
        {
            index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < entries.Count; i++) index.Add(entries[i].Key, i);
        }
    }
}
