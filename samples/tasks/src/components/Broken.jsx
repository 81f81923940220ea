// DELIBERATELY BROKEN: the samples need one file that does not parse. The `{project.name`
// expression below is never closed, as an unfinished edit in the builder leaves it.
// `offbase assess` must list this file as not parsed and go on with the others.
// (No Base44 calls and no markers here: a file that does not parse gives no findings.)
export default function ProjectBadge({ project }) {
  return (
    <span className="rounded px-2 text-xs" style={{ backgroundColor: project.color }}>
      {project.name
    </span>
  );
}
